"""The file families, one module each, reading and writing it and owning its limits: the image files
(imageDetail.json, imagedefinitions.json), ECS blue/green's (taskdef.json, appspec.yaml), and the artifact zip.

Pure: bytes in, domain values out (and back); no AWS, no logging.
"""
