# Shared shell helpers for scripts/bench and scripts/demo.

# free_port: prints a free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_registry DIR PORT: runs Debian's docker-registry on 127.0.0.1:PORT with storage in DIR; sets REGISTRY_PID.
start_registry() {
  local dir=$1 port=$2
  mkdir -p "$dir/storage"
  cat > "$dir/config.yml" <<YAML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
YAML
  docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
  REGISTRY_PID=$!
  for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "docker-registry did not start; log:" >&2
  cat "$dir/registry.log" >&2
  return 1
}

# oci_layout_from_dirs LAYOUT TAG DIR...: an OCI image layout whose layers are tars of the given host dirs (gzip).
# A DIR written ROOT::DIR is tarred from ROOT instead of / (a changed copy of a host dir, with the same paths).
oci_layout_from_dirs() {
  local layout=$1 tag=$2; shift 2
  mkdir -p "$layout/blobs/sha256"
  echo '{"imageLayoutVersion":"1.0.0"}' > "$layout/oci-layout"
  local layers="" diffids="" dir tmp digest diffid size
  local root
  for dir in "$@"; do
    root=/
    case $dir in *::*) root=${dir%%::*}; dir=${dir#*::} ;; esac
    tmp=$(mktemp -p "$layout")
    diffid=$(tar --sort=name -C "$root" -cf - "${dir#/}" 2>/dev/null | tee >(gzip -6 > "$tmp") | sha256sum | cut -d' ' -f1)
    sleep 0.2
    digest=$(sha256sum "$tmp" | cut -d' ' -f1)
    size=$(stat -c %s "$tmp")
    mv "$tmp" "$layout/blobs/sha256/$digest"
    layers="$layers${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$digest\",\"size\":$size}"
    diffids="$diffids${diffids:+,}\"sha256:$diffid\""
  done
  local config="{\"architecture\":\"$(dpkg --print-architecture)\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"/bin/sh\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[$diffids]}}"
  local cdigest; cdigest=$(printf '%s' "$config" | sha256sum | cut -d' ' -f1)
  printf '%s' "$config" > "$layout/blobs/sha256/$cdigest"
  local manifest="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$cdigest\",\"size\":${#config}},\"layers\":[$layers]}"
  local mdigest; mdigest=$(printf '%s' "$manifest" | sha256sum | cut -d' ' -f1)
  printf '%s' "$manifest" > "$layout/blobs/sha256/$mdigest"
  echo "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$mdigest\",\"size\":${#manifest},\"annotations\":{\"org.opencontainers.image.ref.name\":\"$tag\"}}]}" > "$layout/index.json"
}

# chunked_layout SRC_LAYOUT:TAG DEST_LAYOUT TAG: converts an OCI layout's layers to zstd:chunked with
# skopeo, then writes the config's diff_ids anew. Debian's skopeo 1.9.3 re-serializes each tar into the
# chunked stream but keeps the original diff_ids, so its output fails any client that verifies them
# (kubefly, podman); the digest of what each chunked layer decompresses to is the right diff_id.
chunked_layout() {
  local src=$1 dest=$2 tag=$3
  skopeo copy -q --dest-compress-format zstd:chunked "oci:$src" "oci:$dest:$tag.raw"
  local blobs=$dest/blobs/sha256
  local mdigest; mdigest=$(jq -r --arg t "$tag.raw" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' "$dest/index.json" | cut -d: -f2)
  local manifest; manifest=$(cat "$blobs/$mdigest")
  local cdigest; cdigest=$(jq -r .config.digest <<<"$manifest" | cut -d: -f2)
  local diffids="" layer
  for layer in $(jq -r '.layers[].digest' <<<"$manifest" | cut -d: -f2); do
    diffids="$diffids${diffids:+,}\"sha256:$(zstd -dcq "$blobs/$layer" | sha256sum | cut -d' ' -f1)\""
  done
  local config; config=$(jq -c --argjson d "[$diffids]" '.rootfs.diff_ids = $d' "$blobs/$cdigest")
  cdigest=$(printf '%s' "$config" | sha256sum | cut -d' ' -f1)
  printf '%s' "$config" > "$blobs/$cdigest"
  manifest=$(jq -c --arg d "sha256:$cdigest" --argjson s "${#config}" '.config.digest = $d | .config.size = $s' <<<"$manifest")
  mdigest=$(printf '%s' "$manifest" | sha256sum | cut -d' ' -f1)
  printf '%s' "$manifest" > "$blobs/$mdigest"
  jq -c --arg d "sha256:$mdigest" --argjson s "${#manifest}" --arg t "$tag" \
    '.manifests += [{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":$d,"size":$s,"annotations":{"org.opencontainers.image.ref.name":$t}}]' \
    "$dest/index.json" > "$dest/index.json.new" && mv "$dest/index.json.new" "$dest/index.json"
}
