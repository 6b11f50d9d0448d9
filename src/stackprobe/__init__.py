"""stackprobe: prove that Terraform deploys what it promises, on an emulated AWS."""

__version__ = "0.1.0"
