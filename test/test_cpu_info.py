"""The CPU facts a speed figure carries: the model name and the flags that decide precision."""

from __future__ import annotations

from uncertainty_seg_node.cpu_info import DECIDING_FLAGS, cpu_info, machine_facts, parse_cpuinfo

# Two processors of an AVX2-only EPYC (Zen 2) as /proc/cpuinfo lists them, shortened.
EPYC_AVX2 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B12
flags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma bmi1 avx2 bmi2 sha_ni

processor\t: 1
model name\t: AMD EPYC 7B12
flags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma bmi1 avx2 bmi2 sha_ni
"""
SAPPHIRE_RAPIDS = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: avx2 avx512f avx512bw avx512_vnni avx512_bf16 avx_vnni amx_bf16 amx_tile amx_int8
"""


def test_an_avx2_only_cpu_has_no_vnni_and_no_bf16() -> None:
    cpu = parse_cpuinfo(EPYC_AVX2)
    assert cpu.model == "AMD EPYC 7B12"
    assert cpu.flags == {"avx2"} and cpu.isa() == "avx2"
    assert not cpu.int8_vnni
    assert cpu.to_dict() == {"model": "AMD EPYC 7B12", "isa": ["avx2"], "int8_vnni": False}


def test_an_amx_xeon_lists_every_deciding_flag_in_order() -> None:
    cpu = parse_cpuinfo(SAPPHIRE_RAPIDS)
    assert cpu.int8_vnni
    assert cpu.to_dict()["isa"] == ["avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16",
                                    "amx_tile", "amx_int8", "amx_bf16"]
    assert "avx512bw" not in cpu.flags  # only the deciding flags are kept


def test_this_machine_is_described() -> None:
    facts = machine_facts()
    assert facts["cpu"]["model"] == cpu_info().model != ""
    assert set(facts["cpu"]["isa"]) <= set(DECIDING_FLAGS)
    assert facts["cpus"] >= 1 and len(facts["load_average"]) == 3
