#!/usr/bin/python3
"""Writes the machine-description corpus (tests/corpus/arch/*.json) from good_mesh_8x8.json.

bad_*.json must be refused (tests/test_arch.c says which field the message names); good_*.json
must load. Deterministic; rerun only to change the corpus: /usr/bin/python3 tests/corpus/arch/make_arch.py
"""
import copy
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
base = json.load(open(os.path.join(HERE, "good_mesh_8x8.json")))


def variant(name, edit, raw=None):
    d = copy.deepcopy(base)
    edit(d)
    text = raw if raw is not None else json.dumps(d, indent=1)
    with open(os.path.join(HERE, name), "w") as f:
        f.write(text)


def setk(path, v):
    def f(d):
        o = d
        for k in path[:-1]:
            o = o[k]
        o[path[-1]] = v
    return f


# issue 13 item 2: positive but tiny rates overflowed the conversion to cycles
variant("bad_link_rate_tiny.json", setk(["link", "bytes_per_cycle"], 1e-300))
variant("bad_flops_tiny.json", setk(["tile_kinds", 0, "flops_per_cycle", "fp32"], 1e-300))
variant("bad_offchip_rate_tiny.json", setk(["offchip", "bytes_per_s"], 1e-300))
variant("bad_sram_read_tiny.json", setk(["tile_kinds", 0, "sram_read_bytes_per_cycle"], 1e-300))
variant("bad_chip_link_tiny.json", lambda d: (setk(["chips", "count"], 2)(d), setk(["chips", "link_bytes_per_s"], 1e-300)(d)))
variant("bad_link_rate_huge.json", setk(["link", "bytes_per_cycle"], 1e300))

# issue 13 item 6: duplicate keys (the first won), bytes after the JSON value, and integers past
# int64 (the casts printed wrapped values)
text = json.dumps(base, indent=1)
variant("bad_duplicate_key.json", lambda d: None, raw=text.replace('"channels": 24', '"channels": 24, "channels": 2'))
variant("bad_trailing_bytes.json", lambda d: None, raw=text + "\n{\"name\": \"second\"}\n")
variant("bad_sram_bytes_huge.json", setk(["tile_kinds", 0, "sram_bytes"], 1e30))
variant("bad_offchip_bytes_huge.json", setk(["offchip", "bytes"], 1e30))
variant("bad_sram_bytes_fraction.json", setk(["tile_kinds", 0, "sram_bytes"], 0.5))
