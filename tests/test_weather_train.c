/* The acceptance of weather training: builtin:weather-cnn trained briefly on the fabric with the
 * shallow-water data forecasts held-out states better than persistence (tomorrow = today). */
#include "data/weather.h"
#include "train/train.h"
#include "test.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

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

/* weft train --report writes the run's losses, the persistence baseline and the simulated step. */
TEST(weather_train_report_json) {
    char path[1024], cmd[2048];
    snprintf(path, sizeof path, "%s/test_train_report.json", weft_test_builddir());
    remove(path);
    snprintf(cmd, sizeof cmd, "%s/weft train builtin:weather-cnn:lat=8,lon=16,batch=2 --arch wse2-mini --steps 3 --report %s > /dev/null",
             weft_test_builddir(), path);
    CHECK(system(cmd) == 0);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) return;
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    cJSON *r = cJSON_Parse(buf);
    CHECK(r != NULL);
    const char *keys[] = {"loss_first", "loss_last", "val_loss", "persistence_mse", "cycles", "seconds", "samples_per_s",
                          "pe_utilization", "sram_bytes_max", "link_load_max", "host_seconds", "host_peak_rss_bytes"};
    for (size_t i = 0; r && i < sizeof keys / sizeof *keys; i++)
        if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(r, keys[i]))) weft_test_fail(__FILE__, __LINE__, "no number '%s'", keys[i]);
    CHECK(r && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "update_simulated")));
    cJSON_Delete(r);
}
