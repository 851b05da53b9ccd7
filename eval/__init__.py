"""Evaluation: MOT metrics, detection metrics, kinematic and grade accuracy."""
