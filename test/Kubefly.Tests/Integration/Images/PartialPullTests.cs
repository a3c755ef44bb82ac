using System.Text;
using System.Text.Json.Nodes;
using Kubefly.Linux;
using Kubefly.Oci;
using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Images;
using Kubefly.Tests.Infrastructure.Registry;

namespace Kubefly.Tests.Integration.Images;

/// <summary>
/// zstd:chunked updates through the real binary and Debian's docker-registry: v1 of an image is stored,
/// v2 changes one file of its app layer (and adds one); both converted by skopeo.
/// </summary>
[Trait("Category", "Integration")]
public sealed class PartialPullTests : IClassFixture<PartialPullTests.ChunkedImages>, IDisposable
{
    private const string Flags = "--insecure-options=image,http";
    private readonly ChunkedImages _images;
    private readonly DockerRegistryServer _registry = DockerRegistryServer.StartPlain();
    private readonly TempDirectory _state = new("kubefly-partial");

    public PartialPullTests(ChunkedImages images)
    {
        _images = images;
        foreach (var tag in new[] { "v1", "v2", "v2-bad-checksum", "v2-not-a-table" })
        {
            ProgramRunner.Shell($"skopeo copy -q --dest-tls-verify=false oci:{_images.Chunked}:{tag} docker://{_registry.Host}/app:{tag}");
        }
    }

    public void Dispose()
    {
        _registry.Dispose();
        _state.Dispose();
    }

    [Fact]
    public void An_update_fetches_only_what_changed_and_links_the_rest_to_the_stored_files()
    {
        Fetch("v1");

        var update = Fetch("v2");

        Assert.Contains("partial pull:", update.StandardError, StringComparison.Ordinal);
        Assert.Contains("2 files fetched", update.StandardError, StringComparison.Ordinal);
        Assert.Contains($"{ChunkedImages.UnchangedFiles + 1} files (", update.StandardError, StringComparison.Ordinal);
        Assert.Contains("tar headers rebuilt from the stored earlier version", update.StandardError, StringComparison.Ordinal);
        var v1 = LayerHolding("app/changed", ChunkedImages.ChangedV1);
        var v2 = LayerHolding("app/changed", ChunkedImages.ChangedV2);
        Assert.Equal(ChunkedImages.Added, File.ReadAllBytes(Path.Combine(v2, "app/added")));
        for (var i = 1; i < ChunkedImages.UnchangedFiles; i++)
        {
            var name = $"app/file-{i:D2}";
            Assert.Equal(ChunkedImages.Unchanged(i), File.ReadAllBytes(Path.Combine(v2, name)));
            Assert.True(Interop.SameFile(Interop.Stat(Path.Combine(v1, name)), Interop.Stat(Path.Combine(v2, name))), $"{name} is a copy, not the stored file");
        }

        // Same content under another mode, and a file with extended attributes: never shared (a link would
        // give v1's file v2's mode), copied from the store instead, with their own metadata.
        var modeChanged = Interop.Stat(Path.Combine(v2, "app/file-00"));
        Assert.False(Interop.SameFile(Interop.Stat(Path.Combine(v1, "app/file-00")), modeChanged));
        Assert.Equal((0b111_101_101u, 0b110_100_100u), (modeChanged.Permissions, Interop.Stat(Path.Combine(v1, "app/file-00")).Permissions));
        Assert.Equal(ChunkedImages.Unchanged(0), File.ReadAllBytes(Path.Combine(v2, "app/file-00")));
        Assert.False(Interop.SameFile(Interop.Stat(Path.Combine(v1, "app/labelled")), Interop.Stat(Path.Combine(v2, "app/labelled"))));
        Assert.Equal(ChunkedImages.Labelled, File.ReadAllBytes(Path.Combine(v2, "app/labelled")));
        Assert.Equal("v1", Encoding.UTF8.GetString(Interop.GetXattrNoFollow(Path.Combine(v2, "app/labelled"), "user.kubefly")!));
    }

    [Fact]
    public void A_partially_pulled_image_says_how_to_get_its_blobs_before_export_and_exports_after()
    {
        Fetch("v1");
        Fetch("v2");
        var archive = _state.Combine("v2.tar");

        var refused = Kubefly("image", "export", $"{_registry.Host}/app:v2", archive);

        Assert.Equal(254, refused.ExitCode);
        Assert.Contains("was pulled partially", refused.StandardError, StringComparison.Ordinal);
        Assert.Contains("--partial=false", refused.StandardError, StringComparison.Ordinal);
        Assert.False(File.Exists(archive));

        var whole = Fetch("v2", "--pull-policy=update", "--partial=false");
        Assert.DoesNotContain("partial pull:", whole.StandardError, StringComparison.Ordinal);
        var exported = Kubefly("image", "export", $"{_registry.Host}/app:v2", archive);
        Assert.True(exported.ExitCode == 0, exported.ToString());
        ProgramRunner.Shell($"skopeo inspect --raw oci-archive:{archive} >/dev/null");
    }

    [Fact]
    public void Partial_false_fetches_whole_layers()
    {
        Fetch("v1");

        var update = Fetch("v2", "--partial=false");

        Assert.DoesNotContain("partial pull", update.StandardError, StringComparison.Ordinal);
        Assert.Equal(ChunkedImages.ChangedV2, File.ReadAllBytes(Path.Combine(LayerHolding("app/changed", ChunkedImages.ChangedV2), "app/changed")));
    }

    [Fact]
    public void A_registry_that_ignores_ranges_gets_a_whole_fetch()
    {
        Fetch("v1");
        using var proxy = new FaultProxy(_registry.Host);
        proxy.Add(ProxyFault.IgnoreRange(times: 100));

        var update = Kubefly("fetch", $"{proxy.Host}/app:v2");

        Assert.True(update.ExitCode == 0, update.ToString());
        Assert.Contains("not pulled partially", update.StandardError, StringComparison.Ordinal);
        Assert.Contains("answered 200 to a range request", update.StandardError, StringComparison.Ordinal);
        Assert.Contains(proxy.Requests, r => r.Range is not null && r.Status == 200);
        Assert.Equal(ChunkedImages.ChangedV2, File.ReadAllBytes(Path.Combine(LayerHolding("app/changed", ChunkedImages.ChangedV2), "app/changed")));
    }

    [Fact]
    public void A_stored_file_changed_on_disk_is_never_used_the_layer_is_fetched_whole()
    {
        Fetch("v1");
        var stored = Path.Combine(LayerHolding("app/changed", ChunkedImages.ChangedV1), "app/file-03");
        var times = File.GetLastWriteTimeUtc(stored);
        var tampered = ChunkedImages.Unchanged(3);
        tampered[100] ^= 0xff;
        File.WriteAllBytes(stored, tampered);
        File.SetLastWriteTimeUtc(stored, times);

        var update = Fetch("v2");

        Assert.Contains("the partial pull failed", update.StandardError, StringComparison.Ordinal);
        Assert.Contains("digest mismatch", update.StandardError, StringComparison.Ordinal);
        Assert.Contains("fetching it whole", update.StandardError, StringComparison.Ordinal);
        var v2 = LayerHolding("app/changed", ChunkedImages.ChangedV2);
        Assert.Equal(ChunkedImages.Unchanged(3), File.ReadAllBytes(Path.Combine(v2, "app/file-03")));
        Assert.False(Interop.SameFile(Interop.Stat(stored), Interop.Stat(Path.Combine(v2, "app/file-03"))));
    }

    [Fact]
    public void A_table_of_contents_that_does_not_match_the_manifest_checksum_is_not_used()
    {
        Fetch("v1");

        var update = Fetch("v2-bad-checksum");

        Assert.Contains("does not match the manifest's checksum", update.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("partial pull:", update.StandardError, StringComparison.Ordinal);
        Assert.Equal(ChunkedImages.ChangedV2, File.ReadAllBytes(Path.Combine(LayerHolding("app/changed", ChunkedImages.ChangedV2), "app/changed")));
    }

    [Fact]
    public void Range_requests_carry_the_registry_credentials()
    {
        using var registry = DockerRegistryServer.StartWithBasicAuth("alice", "pa55");
        foreach (var tag in new[] { "v1", "v2" })
        {
            ProgramRunner.Shell($"skopeo copy -q --dest-tls-verify=false --dest-creds=alice:pa55 oci:{_images.Chunked}:{tag} docker://{registry.Host}/app:{tag}");
        }

        var authFile = _state.Combine("auth.json");
        File.WriteAllText(authFile, $"{{\"auths\":{{\"{registry.Host}\":{{\"auth\":\"{Convert.ToBase64String("alice:pa55"u8)}\"}}}}}}");
        var environment = new Dictionary<string, string?> { ["REGISTRY_AUTH_FILE"] = authFile };
        var v1 = KubeflyProcess.Run(["--dir", _state.Path, Flags, "fetch", $"{registry.Host}/app:v1"], environment);
        Assert.True(v1.ExitCode == 0, v1.ToString());

        var v2 = KubeflyProcess.Run(["--dir", _state.Path, Flags, "fetch", $"{registry.Host}/app:v2"], environment);

        Assert.True(v2.ExitCode == 0, v2.ToString());
        Assert.Contains("partial pull:", v2.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void Bytes_the_position_annotation_names_that_are_no_table_are_refused_and_the_layer_fetched_whole()
    {
        Fetch("v1");

        var update = Fetch("v2-not-a-table");

        Assert.Contains("not pulled partially", update.StandardError, StringComparison.Ordinal);
        Assert.Contains("table of contents does not decompress", update.StandardError, StringComparison.Ordinal);
        Assert.Equal(ChunkedImages.ChangedV2, File.ReadAllBytes(Path.Combine(LayerHolding("app/changed", ChunkedImages.ChangedV2), "app/changed")));
    }

    private ProcessResult Fetch(string tag, params string[] options)
    {
        var result = Kubefly(["fetch", .. options, $"{_registry.Host}/app:{tag}"]);
        Assert.True(result.ExitCode == 0, result.ToString());
        return result;
    }

    private ProcessResult Kubefly(params string[] arguments) => KubeflyProcess.Run(["--dir", _state.Path, Flags, .. arguments]);

    /// <summary>The stored layer directory whose <paramref name="name"/> holds <paramref name="content"/>.</summary>
    private string LayerHolding(string name, byte[] content)
    {
        var layers = Directory.GetDirectories(_state.Combine("images", "layers", "sha256"));
        return layers.Single(l => File.Exists(Path.Combine(l, name)) && File.ReadAllBytes(Path.Combine(l, name)).AsSpan().SequenceEqual(content));
    }

    /// <summary>v1 and v2 (and v2 with a wrong table checksum) as zstd:chunked in one OCI layout.</summary>
    public sealed class ChunkedImages : IDisposable
    {
        public const int UnchangedFiles = 12;
        private readonly TempDirectory _dir = new("kubefly-chunked-images");

        public ChunkedImages()
        {
            var source = _dir.Combine("source");
            var builder = new OciLayoutBuilder(source);
            var basis = new TarBuilder().Dir("etc").File("etc/os-release", "ID=test\n").Build();
            builder.AddImage([basis, AppLayer(ChangedV1, v2: false)], LayerCompression.Gzip, Platform.Host, tag: "v1");
            builder.AddImage([basis, AppLayer(ChangedV2, v2: true)], LayerCompression.Gzip, Platform.Host, tag: "v2");
            Chunked = _dir.Combine("chunked");
            foreach (var tag in new[] { "v1", "v2" })
            {
                ProgramRunner.Shell($"source {Checkout.Root}/scripts/lib.sh; chunked_layout {source}:{tag} {Chunked} {tag}");
            }

            Retag("v2", "v2-bad-checksum", (annotations, _) => Set(annotations, "manifest-checksum", Digest.Compute("not the table"u8).ToString()));

            // The checksum is right, but for 200 bytes of file content: what the position names is no table.
            Retag("v2", "v2-not-a-table", (annotations, blob) =>
            {
                Set(annotations, "manifest-position", "100:200:100000:1");
                Set(annotations, "manifest-checksum", Digest.Compute(File.ReadAllBytes(blob).AsSpan(100, 200)).ToString());
            });
        }

        public static byte[] ChangedV1 { get; } = Content(1, 30_000);

        public static byte[] ChangedV2 { get; } = Content(2, 31_000);

        public static byte[] Added { get; } = Content(3, 5_000);

        public static byte[] Labelled { get; } = Content(7, 3_000);

        public string Chunked { get; }

        public static byte[] Unchanged(int i) => Content(100 + i, 2_000 + (i * 1_500));

        public void Dispose() => _dir.Dispose();

        /// <summary>v2 changes one file, adds one, and gives file-00 mode 0755 (same content).</summary>
        private static byte[] AppLayer(byte[] changed, bool v2)
        {
            var tar = new TarBuilder().Dir("app");
            for (var i = 0; i < UnchangedFiles; i++)
            {
                tar.File($"app/file-{i:D2}", Unchanged(i), mode: v2 && i == 0 ? 0b111_101_101 : 0b110_100_100);
                if (i == 5)
                {
                    tar.File("app/changed", changed).Symlink("app/link", "changed");
                }
            }

            tar.File("app/labelled", Labelled, xattrs: new Dictionary<string, string> { ["user.kubefly"] = "v1" });
            if (v2)
            {
                tar.File("app/added", Added);
            }

            return tar.Build();
        }

        /// <summary>Random bytes (zstd cannot shrink them, so every file has frames worth skipping).</summary>
        private static byte[] Content(int seed, int size)
        {
            var bytes = new byte[size];
            new Random(seed).NextBytes(bytes);
            return bytes;
        }

        private static void Set(JsonObject annotations, string suffix, string value)
        {
            foreach (var key in annotations.Select(a => a.Key).Where(k => k.EndsWith(suffix, StringComparison.Ordinal)).ToList())
            {
                annotations[key] = value;
            }
        }

        /// <summary>A copy of <paramref name="tag"/> under <paramref name="newTag"/> whose layers' annotations <paramref name="change"/> rewrites (given each layer's blob).</summary>
        private void Retag(string tag, string newTag, Action<JsonObject, string> change)
        {
            var blobs = Path.Combine(Chunked, "blobs", "sha256");
            var index = JsonNode.Parse(File.ReadAllText(Path.Combine(Chunked, "index.json")))!;
            var entry = index["manifests"]!.AsArray().Single(m => (string?)m!["annotations"]?["org.opencontainers.image.ref.name"] == tag)!;
            var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(blobs, ((string)entry["digest"]!)[7..])))!;
            foreach (var layer in manifest["layers"]!.AsArray())
            {
                change(layer!["annotations"]!.AsObject(), Path.Combine(blobs, ((string)layer["digest"]!)[7..]));
            }

            var bytes = Encoding.UTF8.GetBytes(manifest.ToJsonString());
            var digest = Digest.Compute(bytes);
            File.WriteAllBytes(Path.Combine(blobs, digest.Hex), bytes);
            index["manifests"]!.AsArray().Add((JsonNode)new JsonObject
            {
                ["mediaType"] = MediaTypes.OciManifest,
                ["digest"] = digest.ToString(),
                ["size"] = bytes.Length,
                ["annotations"] = new JsonObject { ["org.opencontainers.image.ref.name"] = newTag },
            });
            File.WriteAllText(Path.Combine(Chunked, "index.json"), index.ToJsonString());
        }
    }
}
