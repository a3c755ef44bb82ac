using System.Text;
using System.Text.Json;
using Kubefly.Oci;
using Kubefly.Tests.Infrastructure.Registry;

namespace Kubefly.Tests.Infrastructure.Trust;

/// <summary>
/// cosign-format signatures made without kubefly: an ECDSA P-256 key and signatures by openssl, attached
/// as cosign attaches them (an OCI manifest at the sha256-HEX.sig tag, one layer per signature).
/// </summary>
public static class CosignAttachments
{
    /// <summary>A new key pair in <paramref name="directory"/>: NAME.key (private, PEM) and NAME.pub (PEM "PUBLIC KEY").</summary>
    public static string NewOpensslKey(string directory, string name)
    {
        var key = Path.Combine(directory, name + ".key");
        ProgramRunner.Shell($"openssl ecparam -name prime256v1 -genkey -noout -out {key} && openssl ec -in {key} -pubout -out {Path.Combine(directory, name + ".pub")} 2>/dev/null");
        return key;
    }

    public static byte[] Payload(string dockerReference, Digest manifest) =>
        Encoding.UTF8.GetBytes($$"""{"critical":{"identity":{"docker-reference":"{{dockerReference}}"},"image":{"docker-manifest-digest":"{{manifest}}"},"type":"cosign container image signature"},"optional":null}""");

    /// <summary>openssl's DER ECDSA signature over the payload, base64 as cosign's annotation holds it.</summary>
    public static string SignWithOpenssl(string privateKey, byte[] payload)
    {
        var input = Path.Combine(Path.GetDirectoryName(privateKey)!, $"payload-{Guid.NewGuid():N}");
        File.WriteAllBytes(input, payload);
        ProgramRunner.Shell($"openssl dgst -sha256 -sign {privateKey} -out {input}.sig {input}");
        var signature = Convert.ToBase64String(File.ReadAllBytes(input + ".sig"));
        File.Delete(input);
        File.Delete(input + ".sig");
        return signature;
    }

    public static async Task AttachAsync(RegistryPusher pusher, string repository, Digest manifest, params (byte[] Payload, string Signature)[] signatures)
    {
        var config = await pusher.PushBlobAsync(repository, "{\"architecture\":\"\",\"os\":\"\",\"config\":{},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}"u8.ToArray(), MediaTypes.OciConfig);
        var layers = new List<(PushedBlob Blob, string Signature)>();
        foreach (var (payload, signature) in signatures)
        {
            layers.Add((await pusher.PushBlobAsync(repository, payload, MediaTypes.CosignSimpleSigning), signature));
        }

        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("schemaVersion", 2);
            writer.WriteString("mediaType", MediaTypes.OciManifest);
            WriteDescriptor(writer, "config", config.Descriptor, null);
            writer.WriteStartArray("layers");
            foreach (var (blob, signature) in layers)
            {
                WriteDescriptor(writer, null, blob.Descriptor, signature);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        await pusher.PushManifestAsync(repository, $"sha256-{manifest.Hex}.sig", buffer.ToArray(), MediaTypes.OciManifest);
    }

    private static void WriteDescriptor(Utf8JsonWriter writer, string? name, Descriptor descriptor, string? signature)
    {
        if (name is null)
        {
            writer.WriteStartObject();
        }
        else
        {
            writer.WriteStartObject(name);
        }

        writer.WriteString("mediaType", descriptor.MediaType);
        writer.WriteString("digest", descriptor.Digest.ToString());
        writer.WriteNumber("size", descriptor.Size);
        if (signature is not null)
        {
            writer.WriteStartObject("annotations");
            writer.WriteString("dev.cosignproject.cosign/signature", signature);
            writer.WriteEndObject();
        }

        writer.WriteEndObject();
    }
}
