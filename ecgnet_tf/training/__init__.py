"""Training and evaluation: tasks, cached windows, augmentation, balancing, losses, metrics, reports."""
