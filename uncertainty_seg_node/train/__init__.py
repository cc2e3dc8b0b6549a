"""Training: step 2 (`train_task`, f_theta) and step 3 (`train_uncertainty`, f_phi with L_c)."""

from uncertainty_seg_node.train.config import TrainConfig, resolve_train_config
from uncertainty_seg_node.train.loop import TrainResult
from uncertainty_seg_node.train.task import train_task
from uncertainty_seg_node.train.uncertainty import train_uncertainty

__all__ = ["TrainConfig", "TrainResult", "resolve_train_config", "train_task", "train_uncertainty"]
