"""The AWS platform end to end without an account: moto server for the control plane, real
processes and HAProxy on 127.0.0.1 for the data plane, CloudWatch fed from the traffic.

A test and benchmark harness shipped with the repository, not part of the installed package.
docs/aws.md ("The AWS harness") says what it reproduces of AWS and what it does not.
"""
