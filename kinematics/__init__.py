"""CASA kinematics and WHO 2021 motility grades from a tracks table."""
