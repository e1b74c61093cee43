output "bucket_name" {
  description = "Name of the environment's S3 bucket; the chart exports it as BUCKET_NAME (infra.bucketName)."
  value       = aws_s3_bucket.this.bucket
}

output "bucket_arn" {
  description = "ARN of the environment's S3 bucket, for IAM policies."
  value       = aws_s3_bucket.this.arn
}

output "region" {
  description = "AWS region of the environment's resources (infra.region in the chart)."
  value       = var.region
}
