#!/usr/bin/env bash
# Fetch the upstream schemas the deploy-file tests validate against, at the commits that
# ../shared/schemas/README.md records, into DIR (default: ../shared/schemas).
# Used in GitHub Actions, where the workplace's shared/ folder does not exist.
set -euo pipefail
dest="${1:-../shared/schemas}"

fetch() {  # fetch OWNER/REPO COMMIT UPSTREAM_PATH LOCAL_PATH
  mkdir -p "$(dirname "$dest/$4")"
  curl --fail --silent --show-error --location --retry 3 \
    --output "$dest/$4" "https://raw.githubusercontent.com/$1/$2/$3"
}

compose=170098ba07d9f53c383a41bfd4c5166b0a4529a6
doppler=bdec485ff899deebf70cd256367b8121b26ee76b
operator=6adcebc5076c34f4f55f8f5f7b1e528929373ac7
chaos=608b61e7c1b16c01a242e8ddc93c768ea77d783a
openai=f85dbe223d40e1a31cba812ab2d755c7e98a92a3

fetch compose-spec/compose-spec "$compose" schema/compose-spec.json compose/compose-spec.json
fetch DopplerHQ/kubernetes-operator "$doppler" \
  config/crd/bases/secrets.doppler.com_dopplersecrets.yaml \
  doppler/secrets.doppler.com_dopplersecrets.yaml
for kind in servicemonitors podmonitors prometheusrules; do
  fetch prometheus-operator/prometheus-operator "$operator" \
    "example/prometheus-operator-crd-full/monitoring.coreos.com_$kind.yaml" \
    "prometheus-operator/monitoring.coreos.com_$kind.yaml"
done
for kind in dnschaos httpchaos iochaos networkchaos podchaos schedules stresschaos workflows; do
  fetch chaos-mesh/chaos-mesh "$chaos" "config/crd/bases/chaos-mesh.org_$kind.yaml" \
    "chaos-mesh/chaos-mesh.org_$kind.yaml"
done
fetch openai/openai-openapi "$openai" openapi.yaml openai/openapi.yaml
echo "schemas in $dest"
