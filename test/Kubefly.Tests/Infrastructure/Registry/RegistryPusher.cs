using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Kubefly.Oci;

namespace Kubefly.Tests.Infrastructure.Registry;

/// <summary>A blob as pushed: its descriptor and bytes.</summary>
public sealed record PushedBlob(Descriptor Descriptor, byte[] Bytes)
{
    public Digest Digest => Descriptor.Digest;
}

/// <summary>An image as pushed: manifest bytes and media type, config, layers (gzip'd tars, bottom first).</summary>
public sealed record PushedImage(string Repository, string? Tag, Digest ManifestDigest, byte[] ManifestBytes, string ManifestMediaType, PushedBlob Config, IReadOnlyList<PushedBlob> Layers, Platform Platform);

/// <summary>An index (or Docker manifest list) over several platform images.</summary>
public sealed record PushedIndex(string Repository, string Tag, Digest Digest, byte[] Bytes, string MediaType, IReadOnlyList<PushedImage> Images);

/// <summary>
/// Pushes through the registry HTTP API (monolithic upload: POST then PUT with the digest; manifests by
/// PUT with their content type), so tests can make random images: a config plus N layers, each a gzip'd
/// tar holding one file of random bytes, with matching diff_ids; OCI or Docker media types.
/// </summary>
public sealed class RegistryPusher : IDisposable
{
    private readonly HttpClient _http = new(new SocketsHttpHandler { AllowAutoRedirect = false, UseProxy = false }) { Timeout = TimeSpan.FromMinutes(2) };
    private readonly Func<string, AuthenticationHeaderValue?> _authorization;

    /// <param name="host">127.0.0.1:PORT (plain http).</param>
    /// <param name="authorization">The Authorization for a repository, or null for none.</param>
    public RegistryPusher(string host, Func<string, AuthenticationHeaderValue?>? authorization = null)
    {
        Host = host;
        _authorization = authorization ?? (_ => null);
    }

    public string Host { get; }

    public async Task<PushedBlob> PushBlobAsync(string repository, byte[] bytes, string mediaType)
    {
        var digest = Digest.Compute(bytes);
        using var start = Request(HttpMethod.Post, $"http://{Host}/v2/{repository}/blobs/uploads/", repository);
        using var started = await _http.SendAsync(start);
        await ExpectAsync(started, HttpStatusCode.Accepted, $"start upload to {repository}");
        var location = started.Headers.Location ?? throw new InvalidOperationException("upload without Location");
        var uploadUri = location.IsAbsoluteUri ? location : new Uri(new Uri($"http://{Host}/"), location);
        var separator = uploadUri.Query.Length > 0 ? "&" : "?";
        using var put = Request(HttpMethod.Put, $"{uploadUri}{separator}digest={Uri.EscapeDataString(digest.ToString())}", repository);
        put.Content = new ByteArrayContent(bytes);
        put.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var finished = await _http.SendAsync(put);
        await ExpectAsync(finished, HttpStatusCode.Created, $"upload {digest} to {repository}");
        return new PushedBlob(new Descriptor { MediaType = mediaType, Digest = digest, Size = bytes.Length }, bytes);
    }

    public async Task<Digest> PushManifestAsync(string repository, string reference, byte[] bytes, string mediaType)
    {
        using var put = Request(HttpMethod.Put, $"http://{Host}/v2/{repository}/manifests/{reference}", repository);
        put.Content = new ByteArrayContent(bytes);
        put.Content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        using var response = await _http.SendAsync(put);
        await ExpectAsync(response, HttpStatusCode.Created, $"manifest {reference} of {repository}");
        return Digest.Compute(bytes);
    }

    /// <summary>A random image: <paramref name="layerCount"/> layers of <paramref name="layerSize"/> random bytes each.</summary>
    public async Task<PushedImage> PushRandomImageAsync(string repository, string? tag, int layerCount = 2, int layerSize = 64 * 1024, bool oci = true, Platform? platform = null)
    {
        var target = platform ?? new Platform("linux", "amd64");
        var layers = new List<PushedBlob>();
        var diffIds = new List<Digest>();
        for (var i = 0; i < layerCount; i++)
        {
            var (compressed, diffId) = RandomLayer(i, layerSize);
            layers.Add(await PushBlobAsync(repository, compressed, oci ? MediaTypes.OciLayerGzip : MediaTypes.DockerLayerGzip));
            diffIds.Add(diffId);
        }

        var configBytes = Json(writer =>
        {
            writer.WriteString("created", "2026-01-01T00:00:00Z");
            writer.WriteString("architecture", target.Architecture);
            writer.WriteString("os", target.Os);
            if (target.Variant is { } variant)
            {
                writer.WriteString("variant", variant);
            }

            writer.WriteStartObject("config");
            writer.WriteStartArray("Cmd");
            writer.WriteStringValue("/bin/true");
            writer.WriteEndArray();
            writer.WriteString("Nonce", Guid.NewGuid().ToString("N"));
            writer.WriteEndObject();
            writer.WriteStartObject("rootfs");
            writer.WriteString("type", "layers");
            writer.WriteStartArray("diff_ids");
            foreach (var diffId in diffIds)
            {
                writer.WriteStringValue(diffId.ToString());
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        });
        var config = await PushBlobAsync(repository, configBytes, oci ? MediaTypes.OciConfig : MediaTypes.DockerConfig);
        var mediaType = oci ? MediaTypes.OciManifest : MediaTypes.DockerManifest;
        var manifest = Json(writer =>
        {
            writer.WriteNumber("schemaVersion", 2);
            writer.WriteString("mediaType", mediaType);
            writer.WritePropertyName("config");
            WriteDescriptor(writer, config.Descriptor);
            writer.WriteStartArray("layers");
            foreach (var layer in layers)
            {
                WriteDescriptor(writer, layer.Descriptor);
            }

            writer.WriteEndArray();
        });
        var digest = await PushManifestAsync(repository, tag ?? Digest.Compute(manifest).ToString(), manifest, mediaType);
        return new PushedImage(repository, tag, digest, manifest, mediaType, config, layers, target);
    }

    /// <summary>An index (OCI) or manifest list (Docker) over one random image per platform.</summary>
    public async Task<PushedIndex> PushRandomIndexAsync(string repository, string tag, IReadOnlyList<Platform> platforms, bool oci = true, int layerCount = 1, int layerSize = 16 * 1024)
    {
        var images = new List<PushedImage>();
        foreach (var platform in platforms)
        {
            images.Add(await PushRandomImageAsync(repository, null, layerCount, layerSize, oci, platform));
        }

        var mediaType = oci ? MediaTypes.OciIndex : MediaTypes.DockerManifestList;
        var index = Json(writer =>
        {
            writer.WriteNumber("schemaVersion", 2);
            writer.WriteString("mediaType", mediaType);
            writer.WriteStartArray("manifests");
            foreach (var image in images)
            {
                writer.WriteStartObject();
                writer.WriteString("mediaType", image.ManifestMediaType);
                writer.WriteString("digest", image.ManifestDigest.ToString());
                writer.WriteNumber("size", image.ManifestBytes.Length);
                writer.WriteStartObject("platform");
                writer.WriteString("architecture", image.Platform.Architecture);
                writer.WriteString("os", image.Platform.Os);
                if (image.Platform.Variant is { } variant)
                {
                    writer.WriteString("variant", variant);
                }

                writer.WriteEndObject();
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        });
        var digest = await PushManifestAsync(repository, tag, index, mediaType);
        return new PushedIndex(repository, tag, digest, index, mediaType, images);
    }

    /// <summary>A gzip'd tar holding "layer-N/random.bin" of <paramref name="size"/> random bytes, and the tar's digest.</summary>
    public static (byte[] Compressed, Digest DiffId) RandomLayer(int index, int size)
    {
        var content = new byte[size];
        Random.Shared.NextBytes(content);
        using var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            var directory = new PaxTarEntry(TarEntryType.Directory, $"layer-{index}/") { Mode = (UnixFileMode)0x1ED };
            writer.WriteEntry(directory);
            var file = new PaxTarEntry(TarEntryType.RegularFile, $"layer-{index}/random.bin") { Mode = (UnixFileMode)0x1A4, DataStream = new MemoryStream(content) };
            writer.WriteEntry(file);
        }

        var tarBytes = tar.ToArray();
        using var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(tarBytes);
        }

        return (compressed.ToArray(), Digest.Compute(tarBytes));
    }

    public void Dispose() => _http.Dispose();

    private HttpRequestMessage Request(HttpMethod method, string uri, string repository)
    {
        var request = new HttpRequestMessage(method, uri);
        request.Headers.Authorization = _authorization(repository);
        return request;
    }

    private static async Task ExpectAsync(HttpResponseMessage response, HttpStatusCode expected, string what)
    {
        if (response.StatusCode != expected)
        {
            throw new InvalidOperationException($"push: {what}: expected {(int)expected}, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
    }

    private static void WriteDescriptor(Utf8JsonWriter writer, Descriptor descriptor)
    {
        writer.WriteStartObject();
        writer.WriteString("mediaType", descriptor.MediaType);
        writer.WriteString("digest", descriptor.Digest.ToString());
        writer.WriteNumber("size", descriptor.Size);
        writer.WriteEndObject();
    }

    private static byte[] Json(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }
}
