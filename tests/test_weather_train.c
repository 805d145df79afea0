/* The acceptance of weather training: builtin:weather-cnn trained briefly on the fabric with the
 * shallow-water data forecasts held-out states better than persistence (tomorrow = today). */
#include "data/weather.h"
#include "train/train.h"
#include "test.h"

TEST(weather_training_on_the_fabric_beats_persistence) {
    weft_err err = {0};
    weft_arch arch;
    CHECK_OK(weft_arch_preset("wse2-mini", &arch, &err), &err);
    weft_train_config c = weft_train_defaults();
    c.arch = &arch;
    c.optim.lr = 3e-3;
    c.optim.decay_steps = 40;
    weft_trainer *t = NULL;
    CHECK_OK(weft_train_new("builtin:weather-cnn:lat=12,lon=24,batch=4", &c, &t, &err), &err);
    if (!t) return;
    weft_data *d = weft_data_synthetic(WEFT_DATA_WEATHER);
    weft_step_result r;
    double first = 0;
    for (int i = 0; i < 40; i++) {
        CHECK_OK(weft_train_step(t, d, &r, &err), &err);
        if (i == 0) first = r.loss;
        if (err.status) break;
    }
    double val = 0, persistence = 0;
    CHECK_OK(weft_train_validate(t, d, 8, &val, &err), &err);
    CHECK_OK(weft_train_persistence(t, d, 8, &persistence, &err), &err);
    printf("    weather-cnn 12 x 24 on wse2-mini, 40 steps: training loss %.4f -> %.4f; held-out forecast MSE %.4f, persistence %.4f\n",
           first, r.loss, val, persistence);
    CHECK(r.sim_cycles > 0);
    CHECK(val < 0.9 * persistence);
    weft_data_free(d);
    weft_train_free(t);
}
