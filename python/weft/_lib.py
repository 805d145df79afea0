"""ctypes bindings of libweft.so: the public C API of include/weft.h, and nothing private."""
import ctypes
import os

MAX_DIMS = 8
DTYPES = ["float32", "float16", "bfloat16", "float64", "int64", "int32", "int8", "uint8", "bool", "uint16", "int16",
          "uint32", "uint64"]


class Err(ctypes.Structure):
    _fields_ = [("status", ctypes.c_int), ("msg", ctypes.c_char * 1024)]


class Shape(ctypes.Structure):
    _fields_ = [("ndim", ctypes.c_int), ("d", ctypes.c_int64 * MAX_DIMS)]


class Tensor(ctypes.Structure):
    _fields_ = [("dtype", ctypes.c_int), ("shape", Shape), ("data", ctypes.c_void_p), ("owns", ctypes.c_int)]


class TrainerOpts(ctypes.Structure):
    _fields_ = [("optimizer", ctypes.c_char_p), ("lr", ctypes.c_double), ("momentum", ctypes.c_double),
                ("beta1", ctypes.c_double), ("beta2", ctypes.c_double), ("eps", ctypes.c_double),
                ("weight_decay", ctypes.c_double), ("clip", ctypes.c_double), ("warmup", ctypes.c_int64),
                ("decay_steps", ctypes.c_int64), ("min_lr_frac", ctypes.c_double), ("arch", ctypes.c_char_p),
                ("mode", ctypes.c_char_p), ("precision", ctypes.c_char_p), ("loss", ctypes.c_char_p),
                ("seed", ctypes.c_uint64), ("frozen", ctypes.POINTER(ctypes.c_char_p)), ("n_frozen", ctypes.c_int)]


class TrainResult(ctypes.Structure):
    _fields_ = [("loss", ctypes.c_double), ("grad_norm", ctypes.c_double), ("lr", ctypes.c_double),
                ("sim_seconds", ctypes.c_double), ("sim_cycles", ctypes.c_uint64), ("skipped", ctypes.c_int)]


class SimOpts(ctypes.Structure):
    _fields_ = [("timing_only", ctypes.c_bool), ("per_pe", ctypes.c_bool), ("passes", ctypes.c_int),
                ("detail", ctypes.c_void_p), ("accumulate", ctypes.c_int), ("free_reduction", ctypes.c_bool)]


def _find():
    """The library: $WEFT_LIB, the one make install recorded, the checkout's build/, the system's."""
    here = os.path.dirname(os.path.abspath(__file__))
    cands = [os.environ.get("WEFT_LIB")]
    try:
        from . import _installed
        cands.append(_installed.LIBRARY)
    except ImportError:
        pass
    cands.append(os.path.join(here, "..", "..", "build", "libweft.so"))
    cands.append("libweft.so.0")
    for c in cands:
        if not c:
            continue
        try:
            return ctypes.CDLL(c)
        except OSError:
            continue
    raise ImportError("weft: cannot find libweft.so (build it with make, or set WEFT_LIB)")


lib = _find()
P = ctypes.POINTER
V = ctypes.c_void_p


def _sig(name, res, *args):
    f = getattr(lib, name)
    f.restype = res
    f.argtypes = list(args)


_sig("weft_version", ctypes.c_char_p)
_sig("weft_model_load", ctypes.c_int, ctypes.c_char_p, P(V), P(Err))
_sig("weft_graph_precision", ctypes.c_int, V, ctypes.c_int, P(V), P(Err))
_sig("weft_graph_free", None, V)
_sig("weft_ref_run", ctypes.c_int, V, P(P(Tensor)), ctypes.c_int, P(Tensor), ctypes.c_int, P(Err))
_sig("weft_tensor_free", None, P(Tensor))
_sig("weft_arch_open", ctypes.c_int, ctypes.c_char_p, P(V), P(Err))
_sig("weft_arch_close", None, V)
_sig("weft_program_compile", ctypes.c_int, V, V, P(V), P(Err))
_sig("weft_program_free", None, V)
_sig("weft_program_run", ctypes.c_int, V, P(P(Tensor)), ctypes.c_int, P(Tensor), ctypes.c_int, P(SimOpts), V, P(Err))
_sig("weft_trainer_defaults", TrainerOpts)
_sig("weft_trainer_new", ctypes.c_int, ctypes.c_char_p, P(TrainerOpts), P(V), P(Err))
_sig("weft_trainer_free", None, V)
_sig("weft_trainer_io", None, V, ctypes.c_int, P(ctypes.c_char_p), P(ctypes.c_int), P(Shape))
_sig("weft_trainer_step", ctypes.c_int, V, P(Tensor), P(Tensor), P(TrainResult), P(Err))
_sig("weft_trainer_eval", ctypes.c_int, V, P(Tensor), P(Tensor), P(ctypes.c_double), P(Err))
_sig("weft_trainer_n_params", ctypes.c_int, V)
_sig("weft_trainer_param_name", ctypes.c_char_p, V, ctypes.c_int)
_sig("weft_trainer_param", ctypes.c_int, V, ctypes.c_int, P(Tensor), P(Err))
_sig("weft_trainer_steps", ctypes.c_int64, V)
_sig("weft_trainer_save", ctypes.c_int, V, ctypes.c_char_p, P(Err))
_sig("weft_trainer_load", ctypes.c_int, V, ctypes.c_char_p, P(Err))


class SimStats(ctypes.Structure):
    """weft_sim_stats (include/weft.h), field for field."""
    _fields_ = [("cycles", ctypes.c_uint64), ("run_cycles", ctypes.c_uint64), ("seconds", ctypes.c_double),
                ("flops", ctypes.c_int64), ("achieved_flops", ctypes.c_double), ("peak_flops", ctypes.c_double),
                ("peak_dtype", ctypes.c_char_p), ("pe_utilization", ctypes.c_double), ("tiles_used", ctypes.c_int64),
                ("sram_bytes_max", ctypes.c_int64), ("sram_bytes_mean", ctypes.c_double), ("link_load_max", ctypes.c_double),
                ("link_busiest", ctypes.c_int64), ("link_load_mean", ctypes.c_double), ("messages", ctypes.c_uint64),
                ("bytes_moved", ctypes.c_uint64), ("byte_hops", ctypes.c_uint64), ("events", ctypes.c_uint64),
                ("passes", ctypes.c_int), ("period_cycles", ctypes.c_uint64), ("passes_per_s", ctypes.c_double),
                ("bottleneck", ctypes.c_int), ("bottleneck_busy", ctypes.c_double), ("weight_bytes_in", ctypes.c_int64),
                ("gradient_bytes_out", ctypes.c_int64), ("accumulate", ctypes.c_int), ("layer_cycles", ctypes.c_uint64),
                ("weight_wait_cycles", ctypes.c_uint64), ("update_cycles", ctypes.c_uint64), ("replicas", ctypes.c_int),
                ("chip_net_bytes", ctypes.c_int64), ("chip_net_cycles", ctypes.c_uint64),
                ("alone_period_cycles", ctypes.c_uint64)]


_sig("weft_program_compile_mode", ctypes.c_int, V, V, ctypes.c_char_p, P(V), P(Err))
lib.weft_program_run.argtypes = [V, P(P(Tensor)), ctypes.c_int, P(Tensor), ctypes.c_int, P(SimOpts), P(SimStats), P(Err)]
