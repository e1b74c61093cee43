locals {
  name       = "${var.service}-${var.env}"
  is_preview = startswith(var.env, "pr-")

  # Ours win over var.tags so nobody can mislabel what idp manages.
  tags = merge(var.tags, {
    service      = var.service
    env          = var.env
    owner        = "${{ values.ownerName }}"
    "managed-by" = "idp"
  })
}

# Per-environment object storage for the service.
resource "aws_s3_bucket" "this" {
  bucket = local.name
  # Preview buckets hold throwaway data: let `idp env down` delete them even when not empty.
  force_destroy = local.is_preview
  tags          = local.tags

  lifecycle {
    precondition {
      condition     = length(local.name) >= 3 && length(local.name) <= 63
      error_message = "The bucket name \"${local.name}\" must be 3 to 63 characters: shorten the service or environment name."
    }
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

# Versioning protects long-lived data; previews skip it so teardown stays fast and cheap.
resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = local.is_preview ? "Disabled" : "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}
