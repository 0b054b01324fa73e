"""shipyard: deployment automation for services on AWS, built on Pulumi."""

__version__ = "0.1.0"
