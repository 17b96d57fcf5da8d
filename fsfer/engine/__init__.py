"""The training engine: episodic training, checkpoints, evaluation, prediction, torch.distributed."""
