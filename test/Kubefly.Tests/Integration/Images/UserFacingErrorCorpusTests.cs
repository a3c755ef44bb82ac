using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Kubefly.Oci;
using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Images;

namespace Kubefly.Tests.Integration.Images;

/// <summary>
/// Bad input a user can cause, through the real NativeAOT binary (hardening issue, items 6 and 7): every
/// failure is told in kubefly's words with its context, never as a .NET resource key (the build strips
/// resource strings: "Overflow_Int32", "IO_EOF_ReadBeyondEOF", "net_http_...") or an exception type name,
/// and no message doubles a word ("layer layer", "usage: usage:").
/// </summary>
[Trait("Category", "Integration")]
public sealed partial class UserFacingErrorCorpusTests : IDisposable
{
    private readonly TempDirectory _state = new("kubefly-state");
    private readonly TempDirectory _work = new("kubefly-corpus");

    public void Dispose()
    {
        _state.Dispose();
        _work.Dispose();
    }

    public static TheoryData<string> CaseNames() => [.. Cases.Keys];

    private static readonly Dictionary<string, Func<UserFacingErrorCorpusTests, BadInput>> Cases = new()
    {
        ["PaxUidBeyondInt32"] = t => t.FetchLayer(Pax([new("uid", "99999999999")], "f", '0'), "layer sha256:"),
        ["PaxNegativeMtime"] = t => t.FetchLayer(Pax([new("mtime", "-99999999999999")], "f", '0'), "layer sha256:"),
        ["PaxMtimeBeyondDateTime"] = t => t.FetchLayer(Pax([new("mtime", "99999999999999999")], "f", '0'), "layer sha256:"),
        ["TruncatedGzipLayer"] = t => t.FetchBlob(Gzip(new TarBuilder().File("f", new byte[200_000]).Build())[..2000], MediaTypes.OciLayerGzip, "layer sha256:"),
        ["TruncatedTarLayer"] = t => t.FetchBlob(new TarBuilder().File("f", new byte[200_000]).Build()[..100_000], MediaTypes.OciLayer, "layer sha256:"),
        ["GarbageLayer"] = t => t.FetchBlob(Encoding.ASCII.GetBytes(new string('z', 5000)), MediaTypes.OciLayer, "layer sha256:"),
        ["ManifestLabelledIndexWithNullManifests"] = t => t.FetchManifest($"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciIndex}\",\"manifests\":null}}", "manifests"),
        ["IndexWithNullEntry"] = t => t.FetchManifest($"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciIndex}\",\"manifests\":[null]}}", "manifests"),
        ["ManifestWithNullLayers"] = t => t.FetchManifest(t.ManifestJson(layers: "null"), "layers"),
        ["ManifestWithNullConfig"] = t => t.FetchManifest($"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciManifest}\",\"config\":null,\"layers\":[]}}", "config"),
        ["ManifestLayerOfMaxInt64Bytes"] = t => t.FetchManifest(t.ManifestJson(layers: $"[{{\"mediaType\":\"{MediaTypes.OciLayerGzip}\",\"digest\":\"sha256:{new string('a', 64)}\",\"size\":9223372036854775807}}]"), "9223372036854775807 bytes"),
        ["ManifestLayerSizeNotANumber"] = t => t.FetchManifest(t.ManifestJson(layers: $"[{{\"mediaType\":\"{MediaTypes.OciLayerGzip}\",\"digest\":\"sha256:{new string('a', 64)}\",\"size\":1e400}}]"), "manifest"),
        ["ManifestOf10000Layers"] = t => t.FetchManifest(t.ManifestJson(layers: "[" + string.Join(",", Enumerable.Range(0, 10_000).Select(i => $"{{\"mediaType\":\"{MediaTypes.OciLayerGzip}\",\"digest\":\"sha256:{i:x64}\",\"size\":1}}")) + "]"), "at most 500 layers"),
        ["ManifestNotJson"] = t => t.FetchManifest("{\"schemaVersion\":2,,", "manifest"),
        ["ConfigWithWrongTypes"] = t => t.FetchWithConfig("{\"architecture\":5,\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}", "config"),
        ["Arm64OnlyImageOnThisHost"] = t => t.FetchWithConfig($"{{\"architecture\":\"{OtherArchitecture}\",\"os\":\"linux\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"sha256:{new string('b', 64)}\"]}}}}", $"linux/{OtherArchitecture} only"),
        ["LayoutIndexGarbage"] = t => t.FetchLayoutIndex("garbage", "index"),
        ["DockerArchiveGarbage"] = t => t.FetchArchive(Encoding.ASCII.GetBytes(new string('q', 3000)), "archive"),
        ["DockerArchiveTruncated"] = t => t.FetchArchive(new TarBuilder().File("manifest.json", new byte[100_000]).Build()[..50_000], "archive"),
        ["ExportToAMissingDirectory"] = t => t.WithBusybox(id => t.Kubefly("image", "export", id, t._work.Combine("no", "such", "dir", "out.tar")), "no/such/dir"),
        ["ExtractUnderARegularFile"] = t => t.WithBusybox(id => t.Kubefly("image", "extract", id, Path.Combine(t.RegularFile(), "sub")), "kubefly-corpus"),
        ["RemoveAnUnknownImage"] = t => new BadInput(t.Kubefly("image", "rm", "sha256:" + new string('c', 64)), "not found"),
        ["RegistryAnsweringGarbage"] = t => t.FetchFromGarbageServer(),
        ["StatusWithoutArguments"] = t => new BadInput(t.Kubefly("status"), "usage: status"),
        ["GlobalFlagWithABadValueBeforeRun"] = t => new BadInput(t.Kubefly("--insecure-options=bogus", "run", "busybox"), "unknown --insecure-options value \"bogus\""),
        ["GlobalBooleanWithABadValueBeforeStatus"] = t => new BadInput(t.Kubefly("--debug=maybe", "status", "x"), "for --debug: expected true or false"),
        ["RunAnImageNotInTheStoreWithPullPolicyNever"] = t => new BadInput(t.Kubefly("run", "--pull-policy=never", "example.invalid/app:v1"), "fetch it first (kubefly fetch), or import its archive"),
        ["ExportAnImageNotInTheStore"] = t => new BadInput(t.Kubefly("image", "export", "example.invalid/app:v1", t._work.Combine("out.tar")), "`kubefly image list` shows what it holds"),
        ["RunWithAPerRunSignatureFile"] = t => new BadInput(t.Kubefly("run", "busybox", "--signature=/etc/k.sig"), "trust policy"),

        // Image documents (manifests, indexes, configs) and layouts, each named for what it breaks.
        ["ManifestSchemaVersion1"] = t => t.FetchManifest("{\"schemaVersion\":1,\"name\":\"x\",\"tag\":\"t\",\"fsLayers\":[]}", "oci:"),
        ["ManifestEmptyObject"] = t => t.FetchManifest("{}", "oci:"),
        ["ManifestJsonArray"] = t => t.FetchManifest("[]", "oci:"),
        ["ManifestJsonString"] = t => t.FetchManifest("\"manifest\"", "oci:"),
        ["ManifestNestedTenThousandDeep"] = t => t.FetchManifest(new string('[', 10_000) + new string(']', 10_000), "oci:"),
        ["ManifestOverFourMebibytes"] = t => t.FetchManifest(t.ManifestJson(layers: "[]").Replace("\"layers\"", $"\"annotations\":{{\"a\":\"{new string('x', 5 << 20)}\"}},\"layers\"", StringComparison.Ordinal), "oci:"),
        ["ManifestConfigDigestMalformed"] = t => t.FetchManifest($"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciManifest}\",\"config\":{{\"mediaType\":\"{MediaTypes.OciConfig}\",\"digest\":\"sha256:xyz\",\"size\":2}},\"layers\":[]}}", "oci:"),
        ["ManifestConfigDigestUppercase"] = t => t.FetchManifest($"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciManifest}\",\"config\":{{\"mediaType\":\"{MediaTypes.OciConfig}\",\"digest\":\"sha256:{new string('A', 64)}\",\"size\":2}},\"layers\":[]}}", "oci:"),
        ["ManifestConfigDigestUnknownAlgorithm"] = t => t.FetchManifest($"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciManifest}\",\"config\":{{\"mediaType\":\"{MediaTypes.OciConfig}\",\"digest\":\"md5:{new string('a', 32)}\",\"size\":2}},\"layers\":[]}}", "oci:"),
        ["ManifestConfigBlobMissing"] = t => t.FetchManifest($"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciManifest}\",\"config\":{{\"mediaType\":\"{MediaTypes.OciConfig}\",\"digest\":\"sha256:{new string('e', 64)}\",\"size\":2}},\"layers\":[]}}", "oci:"),
        ["ManifestLayerSizeNegative"] = t => t.FetchManifest(t.ManifestJson(layers: $"[{{\"mediaType\":\"{MediaTypes.OciLayerGzip}\",\"digest\":\"sha256:{new string('a', 64)}\",\"size\":-1}}]"), "oci:"),
        ["ManifestLayerBlobMissing"] = t => t.FetchManifest(t.ManifestJson(layers: $"[{{\"mediaType\":\"{MediaTypes.OciLayerGzip}\",\"digest\":\"sha256:{new string('f', 64)}\",\"size\":10}}]"), "oci:"),
        ["ManifestLayerOfUnknownMediaType"] = t => t.FetchManifest(t.ManifestJson(layers: $"[{{\"mediaType\":\"application/x-evil\",\"digest\":\"sha256:{new string('a', 64)}\",\"size\":10}}]"), "oci:"),
        ["ManifestLayerDigestNotAString"] = t => t.FetchManifest(t.ManifestJson(layers: $"[{{\"mediaType\":\"{MediaTypes.OciLayerGzip}\",\"digest\":7,\"size\":10}}]"), "oci:"),
        ["IndexWithEmptyManifests"] = t => t.FetchManifest($"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciIndex}\",\"manifests\":[]}}", "oci:"),
        ["IndexNestedThirtyDeep"] = t => t.FetchNestedIndex(30),
        ["ConfigNotJson"] = t => t.FetchWithConfig("garbage", "config"),
        ["ConfigRootfsNotLayers"] = t => t.FetchWithConfig("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"evil\",\"diff_ids\":[]}}", "oci:"),
        ["ConfigForAnotherOperatingSystem"] = t => t.FetchWithConfig($"{{\"architecture\":\"{Platform.Host.Architecture}\",\"os\":\"windows\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"sha256:{new string('b', 64)}\"]}}}}", "windows"),
        ["ConfigWithMoreDiffIdsThanLayers"] = t => t.FetchWithConfig($"{{\"architecture\":\"{Platform.Host.Architecture}\",\"os\":\"linux\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"sha256:{new string('c', 64)}\",\"sha256:{new string('c', 64)}\"]}}}}", "oci:"),
        ["LayoutIndexWithNullManifests"] = t => t.FetchLayoutIndex("{\"schemaVersion\":2,\"manifests\":null}", "index"),
        ["LayoutWithoutTheTag"] = t => t.FetchLayoutIndex("{\"schemaVersion\":2,\"manifests\":[]}", "t"),
        ["LayoutBlobIsADirectory"] = t => t.FetchLayoutWithOddBlob(path => Directory.CreateDirectory(path)),
        ["LayoutBlobIsAFifo"] = t => t.FetchLayoutWithOddBlob(path => ProgramRunner.Run("/usr/bin/mkfifo", [path])),
        ["LayoutBlobIsASymlinkOutOfTheLayout"] = t => t.FetchLayoutWithOddBlob(path => File.CreateSymbolicLink(path, "/etc/passwd")),
        ["DockerArchiveManifestNotJson"] = t => t.FetchArchive(new TarBuilder().File("manifest.json", "garbage").Build(), "archive"),
        ["DockerArchiveEntryClimbingOut"] = t => t.FetchArchive(new TarBuilder().File("../evil.json", "[]").File("manifest.json", "[{\"Config\":\"../evil.json\",\"RepoTags\":[\"x:y\"],\"Layers\":[]}]").Build(), "archive"),
        ["DockerArchiveWithoutManifest"] = t => t.FetchArchive(new TarBuilder().File("other", "x").Build(), "archive"),
    };

    private static string OtherArchitecture => Platform.Host.Architecture == "arm64" ? "amd64" : "arm64";

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void EveryFailureIsToldInKubeflysWordsWithItsContext(string name)
    {
        var bad = Cases[name](this);
        var output = bad.Result.StandardOutput + bad.Result.StandardError;

        Assert.True(bad.Result.ExitCode is 254 or 2, bad.Result.ToString());
        Assert.Contains(bad.Mentions, output, StringComparison.Ordinal);
        Assert.False(UserFacingText.NotKubeflysWords().IsMatch(output), $"a .NET resource key or exception name reached the user: {UserFacingText.NotKubeflysWords().Match(output).Value}\n{bad.Result}");
        Assert.True(_peakKilobytes < MemoryBoundKilobytes, $"peak RSS {_peakKilobytes} KiB");
        var next = KubeflyProcess.Run(["--dir", _state.Path, "fetch", "--quiet", TestImages.Reference(TestImages.Busybox)]);
        Assert.True(next.ExitCode == 0, $"the next ordinary fetch failed: {next}");
        Assert.False(DoubledWord().IsMatch(output), $"a doubled word: {DoubledWord().Match(output).Value}\n{bad.Result}");
    }

    [Fact]
    public void ATenThousandLayerImageIsRefusedBeforeAnyDownload()
    {
        // The layer blobs do not exist: any download would fail on a missing blob instead.
        var bad = Cases["ManifestOf10000Layers"](this);
        Assert.Contains("10000 layers", bad.Result.StandardError);
        Assert.DoesNotContain("blob", bad.Result.StandardError);
        Assert.Empty(Directory.GetFiles(Path.Combine(_state.Path, "images", "blobs", "sha256")));
    }

    [Fact]
    public void AnImageForAnotherArchitectureIsRefusedAtFetchNamingItsPlatform()
    {
        var bad = Cases["Arm64OnlyImageOnThisHost"](this);
        Assert.Contains($"linux/{OtherArchitecture} only, not {Platform.Host}", bad.Result.StandardError);
        Assert.Empty(Directory.GetDirectories(Path.Combine(_state.Path, "images", "layers", "sha256")));
    }

    [Fact]
    public void AFailedExtractRemovesWhatItCreatedAndNothingElse()
    {
        var layout = new OciLayoutBuilder(_work.Combine("layout-extract"));
        layout.AddImage([TestImages.BusyboxLayer()], LayerCompression.Gzip, Platform.Host, tag: "t");
        var id = Kubefly("fetch", "--quiet", $"oci:{_work.Combine("layout-extract")}:t").StandardOutput.Trim();
        Assert.StartsWith("sha256:", id);

        // Damage the stored layer blob: the extraction fails midway (the digest check at its end).
        var manifest = JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(_state.Path, "images", "blobs", "sha256", Digest.Parse(id).Hex)), OciJsonContext.Default.ImageManifest)!;
        var blob = Path.Combine(_state.Path, "images", "blobs", "sha256", manifest.Layers[0].Digest.Hex);
        var bytes = File.ReadAllBytes(blob);
        File.WriteAllBytes(blob, [.. bytes, .. Gzip(new TarBuilder().File("extra", "x").Build())]);

        var fresh = _work.Combine("new-parent", "out");
        var intoFresh = Kubefly("image", "extract", id, fresh);
        Assert.Equal(254, intoFresh.ExitCode);
        Assert.False(Path.Exists(_work.Combine("new-parent")), intoFresh.ToString());

        var existing = _work.Combine("existing");
        Directory.CreateDirectory(existing);
        File.WriteAllText(_work.Combine("beside"), "keep");
        var intoExisting = Kubefly("image", "extract", "--rootfs-only", id, existing);
        Assert.Equal(254, intoExisting.ExitCode);
        Assert.True(Directory.Exists(existing));
        Assert.Empty(Directory.GetFileSystemEntries(existing));
        Assert.Equal("keep", File.ReadAllText(_work.Combine("beside")));
    }

    private BadInput FetchLayer(byte[] tar, string mentions) => FetchBlob(tar, MediaTypes.OciLayer, mentions);

    private BadInput FetchBlob(byte[] blob, string mediaType, string mentions)
    {
        var directory = _work.Combine(Guid.NewGuid().ToString("N"));
        var layout = new OciLayoutBuilder(directory);
        var layer = layout.WriteBlob(blob, mediaType);
        layout.AddImageWithLayerBlobs([layer], [Digest.Compute(blob)], Platform.Host, tag: "t");
        return new BadInput(Kubefly("fetch", "--quiet", $"oci:{directory}:t"), mentions);
    }

    private string ManifestJson(string layers)
    {
        var directory = _work.Combine("shared-config");
        var config = new OciLayoutBuilder(directory).WriteBlob("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}"u8.ToArray(), MediaTypes.OciConfig);
        return $"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciManifest}\",\"config\":{{\"mediaType\":\"{MediaTypes.OciConfig}\",\"digest\":\"{config.Digest}\",\"size\":{config.Size}}},\"layers\":{layers}}}";
    }

    private BadInput FetchManifest(string json, string mentions)
    {
        var directory = _work.Combine(Guid.NewGuid().ToString("N"));
        var layout = new OciLayoutBuilder(directory);
        layout.WriteBlob("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}"u8.ToArray(), MediaTypes.OciConfig);
        var manifest = layout.WriteBlob(Encoding.UTF8.GetBytes(json), MediaTypes.OciManifest);
        layout.Tag(manifest, "t");
        return new BadInput(Kubefly("fetch", "--quiet", $"oci:{directory}:t"), mentions);
    }

    private BadInput FetchWithConfig(string configJson, string mentions)
    {
        var directory = _work.Combine(Guid.NewGuid().ToString("N"));
        var layout = new OciLayoutBuilder(directory);
        var config = layout.WriteBlob(Encoding.UTF8.GetBytes(configJson), MediaTypes.OciConfig);
        var layers = configJson.Contains(new string('b', 64), StringComparison.Ordinal)
            ? $"[{{\"mediaType\":\"{MediaTypes.OciLayerGzip}\",\"digest\":\"sha256:{new string('d', 64)}\",\"size\":10}}]"
            : "[]";
        var manifest = layout.WriteBlob(Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciManifest}\",\"config\":{{\"mediaType\":\"{MediaTypes.OciConfig}\",\"digest\":\"{config.Digest}\",\"size\":{config.Size}}},\"layers\":{layers}}}"), MediaTypes.OciManifest);
        layout.Tag(manifest, "t");
        return new BadInput(Kubefly("fetch", "--quiet", $"oci:{directory}:t"), mentions);
    }

    private BadInput FetchLayoutIndex(string indexJson, string mentions)
    {
        var directory = _work.Combine(Guid.NewGuid().ToString("N"));
        _ = new OciLayoutBuilder(directory);
        File.WriteAllText(Path.Combine(directory, "index.json"), indexJson);
        return new BadInput(Kubefly("fetch", "--quiet", $"oci:{directory}:t"), mentions);
    }

    /// <summary>An index whose only entry is an index, <paramref name="depth"/> levels down to a manifest.</summary>
    private BadInput FetchNestedIndex(int depth)
    {
        var directory = _work.Combine(Guid.NewGuid().ToString("N"));
        var layout = new OciLayoutBuilder(directory);
        var current = layout.AddImage([TestImages.BusyboxLayer()], LayerCompression.Gzip, Platform.Host);
        for (var i = 0; i < depth; i++)
        {
            var index = $"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciIndex}\",\"manifests\":[{{\"mediaType\":\"{current.MediaType}\",\"digest\":\"{current.Digest}\",\"size\":{current.Size}}}]}}";
            current = layout.WriteBlob(Encoding.UTF8.GetBytes(index), MediaTypes.OciIndex);
        }

        layout.Tag(current, "t");
        return new BadInput(Kubefly("fetch", "--quiet", $"oci:{directory}:t"), "oci:");
    }

    /// <summary>A layout whose manifest blob is replaced by something that is not a regular file.</summary>
    private BadInput FetchLayoutWithOddBlob(Action<string> replace)
    {
        var directory = _work.Combine(Guid.NewGuid().ToString("N"));
        var layout = new OciLayoutBuilder(directory);
        var manifest = layout.AddImage([TestImages.BusyboxLayer()], LayerCompression.Gzip, Platform.Host, tag: "t");
        var path = Path.Combine(directory, "blobs", "sha256", manifest.Digest.Hex);
        File.Delete(path);
        replace(path);
        return new BadInput(Kubefly("fetch", "--quiet", $"oci:{directory}:t"), "oci:");
    }

    private BadInput FetchArchive(byte[] archive, string mentions)
    {
        var path = _work.Combine(Guid.NewGuid().ToString("N") + ".tar");
        File.WriteAllBytes(path, archive);
        return new BadInput(Kubefly("fetch", "--quiet", $"docker-archive:{path}"), mentions);
    }

    private BadInput WithBusybox(Func<string, ProcessResult> command, string mentions)
    {
        var id = Kubefly("fetch", "--quiet", TestImages.Reference(TestImages.Busybox));
        Assert.True(id.ExitCode == 0, id.ToString());
        return new BadInput(command(id.StandardOutput.Trim()), mentions);
    }

    private string RegularFile()
    {
        var path = _work.Combine("regular-file");
        File.WriteAllText(path, "x");
        return path;
    }

    /// <summary>A "registry" that answers every connection with bytes that are neither TLS nor HTTP.</summary>
    private BadInput FetchFromGarbageServer()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var stop = new CancellationTokenSource();
        var server = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var client = await listener.AcceptTcpClientAsync(stop.Token);
                await client.GetStream().WriteAsync("garbage garbage\r\n\r\n"u8.ToArray(), stop.Token);
            }
        });
        var result = Kubefly("fetch", "--insecure-options=image,http", $"docker://127.0.0.1:{port}/x:latest");
        stop.Cancel();
        listener.Stop();
        try
        {
            server.Wait();
        }
        catch (AggregateException)
        {
            // the accept loop ends with the listener
        }

        return new BadInput(result, $"127.0.0.1:{port}");
    }

    private static byte[] Pax(IEnumerable<KeyValuePair<string, string>> records, string name, char type) =>
        [.. TarBuilder.RawPaxHeader(records), .. TarBuilder.RawEntry(name, type, data: "x"u8.ToArray()), .. new byte[1024]];

    private static byte[] Gzip(byte[] data)
    {
        var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(data);
        }

        return output.ToArray();
    }

    private const long MemoryBoundKilobytes = 100 * 1024;

    private long _peakKilobytes;

    /// <summary>Runs the binary under /usr/bin/time, keeping the highest peak RSS of the case's runs.</summary>
    private ProcessResult Kubefly(params string[] arguments)
    {
        var rss = _work.Combine($"rss-{Guid.NewGuid():N}");
        var result = ProgramRunner.Run("/usr/bin/time", ["-f", "%M", "-o", rss, KubeflyProcess.BinaryPath, "--dir", _state.Path, .. arguments], timeout: TimeSpan.FromMinutes(2));
        _peakKilobytes = Math.Max(_peakKilobytes, UserFacingText.PeakKilobytes(rss));
        return result;
    }

    [GeneratedRegex(@"\b([A-Za-z]{2,}):? \1\b")]
    private static partial Regex DoubledWord();

    private sealed record BadInput(ProcessResult Result, string Mentions);
}
