"""genlab: the course library every notebook of the course imports.

It holds what every topic needs and no student writes: profiles and devices, data,
plotting, training-loop plumbing and the helpers test cells use. Answers to the
assignments live only in ``solutions/``.
"""
from genlab.profiles import PROFILES, choose, device, profile, seed_all, smoke_mode

__all__ = ["PROFILES", "choose", "device", "profile", "seed_all", "smoke_mode"]
__version__ = "0.1.0"
