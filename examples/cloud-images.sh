#!/usr/bin/env bash
# Hash the files of GCP and AWS machine images. hashr never runs in the
# cloud: the cloud exports the image to a bucket, and hashr-scan lists the
# bucket, hashr-fetch downloads, hashr-extract opens the disk image.
#
#   examples/cloud-images.sh gcp PROJECT IMAGE gs://BUCKET/PREFIX
#   examples/cloud-images.sh aws AMI_ID s3://BUCKET/PREFIX [REGION]
#   examples/cloud-images.sh hash gs://BUCKET/PREFIX     (or s3://…: the bucket half alone)
#
# Needs bin/ (make build) and, for the export, gcloud or the aws CLI logged
# in. hashr reads credentials from the same environment those tools' SDKs
# do: GOOGLE_APPLICATION_CREDENTIALS (or gcloud auth application-default
# login), AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN and
# AWS_REGION (or export them from your profile: eval "$(aws configure
# export-credentials --format env)").
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
PATH=$here/bin:$PATH
work=${HASHR_WORK:-$HOME/.cache/hashr/work}
db=${HASHR_DB:-sqlite:hashr.db}

# GCP: "gcloud compute images export" writes IMAGE as a gzipped tar holding
# disk.raw to Cloud Storage (it runs a Cloud Build job: the project needs
# the Cloud Build API and its service account needs the Compute and
# Storage roles). https://cloud.google.com/compute/docs/images/export-image
gcp() {
  local project=$1 image=$2 dest=${3%/}
  gcloud compute images export --project "$project" --image "$image" \
    --destination-uri "$dest/$image.tar.gz"
  hash_bucket "$dest/"
}

# AWS: "aws ec2 export-image" writes an AMI as a RAW, VMDK or VHD disk
# image to S3 (the bucket needs the ACL or policy for the vmie service,
# and the account the vmimport role).
# https://docs.aws.amazon.com/vm-import/latest/userguide/vmexport_image.html
aws_export() {
  local ami=$1 dest=${2%/} region=${3:-${AWS_REGION:-us-east-1}}
  local bucket=${dest#s3://}; bucket=${bucket%%/*}
  local prefix=${dest#s3://$bucket}; prefix=${prefix#/}
  local task
  task=$(aws ec2 export-image --region "$region" --image-id "$ami" --disk-image-format RAW \
    --s3-export-location "S3Bucket=$bucket,S3Prefix=${prefix:+$prefix/}" \
    --query ExportImageTaskId --output text)
  echo "export task $task: waiting for it to finish (this takes a while)"
  while :; do
    local status
    status=$(aws ec2 describe-export-image-tasks --region "$region" --export-image-task-ids "$task" \
      --query 'ExportImageTasks[0].Status' --output text)
    echo "  $status"
    case $status in
      completed) break ;;
      deleted | deleting) echo "export failed" >&2; return 1 ;;
    esac
    sleep 60
  done
  AWS_REGION=$region hash_bucket "$dest/"
}

# The bucket half: list the exported images, download them (resumable,
# verified against the listing's MD5), and hash every file in their file
# systems into the database. --max-depth 1 opens the disk image inside
# GCP's tar.gz; AWS's RAW image is the source itself.
hash_bucket() {
  local bucket=$1
  hashr-scan --repo "${HASHR_REPO:-cloud}" "$bucket" \
    | hashr-fetch --work "$work" --workers 4 \
    | hashr-extract --hash md5,sha1,sha256 --max-depth 1 \
    | hashr-dedup | hashr-load --db "$db"
}

case ${1:-} in
  gcp) shift; gcp "$@" ;;
  aws) shift; aws_export "$@" ;;
  hash) shift; hash_bucket "$@" ;;
  *) sed -n '2,9p' "$0" >&2; exit 2 ;;
esac
