"""Native htools (hbal, hail, hspace, hroller, hcheck, hinfo) for corral."""

__version__ = "0.1.0"
