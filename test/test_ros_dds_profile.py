"""The large-data Fast DDS profile reaches both Fast DDS generations, and never overrides a user.

Fast DDS 2 (Humble, Jazzy) reads only FASTRTPS_DEFAULT_PROFILES_FILE, Fast DDS 3 (Kilted) only
FASTDDS_DEFAULT_PROFILES_FILE; with just the second set, Jazzy ran without the profile and its
1.2 MB outputs went over UDP fragments (the burst test's 1.5 s outliers).
"""

from __future__ import annotations

from pathlib import Path

from uncertainty_seg_node.ros.dds import PROFILE_NAME, apply_default_profile


def test_both_fast_dds_generations_get_the_profile() -> None:
    env: dict[str, str] = {}
    profile = apply_default_profile(env)
    assert profile is not None and profile.name == PROFILE_NAME and profile.is_file()
    assert env["FASTRTPS_DEFAULT_PROFILES_FILE"] == str(profile)  # Fast DDS 2: Humble, Jazzy
    assert env["FASTDDS_DEFAULT_PROFILES_FILE"] == str(profile)  # Fast DDS 3: Kilted


def test_a_profile_the_user_chose_is_kept() -> None:
    for name in ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE"):
        env = {name: "/etc/mine.xml"}
        assert apply_default_profile(env) is None and env == {name: "/etc/mine.xml"}


def test_switch_and_other_rmw_leave_the_environment_alone(tmp_path: Path) -> None:
    env = {"UNCERTAINTY_SEG_FASTDDS_PROFILE": "none"}
    assert apply_default_profile(env) is None and len(env) == 1
    env = {"RMW_IMPLEMENTATION": "rmw_cyclonedds_cpp"}
    assert apply_default_profile(env) is None and len(env) == 1
    own = tmp_path / "own.xml"
    own.write_text("<dds/>")
    env = {"UNCERTAINTY_SEG_FASTDDS_PROFILE": str(own)}
    assert apply_default_profile(env) == own
    assert env["FASTRTPS_DEFAULT_PROFILES_FILE"] == str(own)
    assert env["FASTDDS_DEFAULT_PROFILES_FILE"] == str(own)
