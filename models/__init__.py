"""Pyomo formulations of the office-network problem (see docs/model.md)."""

from .office_network import build_model

__all__ = ["build_model"]
