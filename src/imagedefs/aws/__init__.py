"""The AWS adapters: the only package that imports botocore or boto3 (a lint rule in `make test` enforces it).

S3 for the job's artifacts, ECS for a blue/green job's service, CodePipeline for the report, all from one
botocore session and under the job's time budget; each classifies its own errors into errors.py's failures.
"""
