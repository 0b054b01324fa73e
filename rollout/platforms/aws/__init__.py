"""The AWS platform: ALB listener weights, ECS colors, CloudWatch alarms (in progress)."""
