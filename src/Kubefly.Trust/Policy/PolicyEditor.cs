using System.Text.Json;
using System.Text.Json.Nodes;
using Kubefly.Oci;

namespace Kubefly.Trust.Policy;

/// <summary>What `kubefly trust set` writes for a scope, as `podman image trust set` names the types.</summary>
public enum TrustType
{
    Accept,
    Reject,
    SignedBy,
    SigstoreSigned,
}

/// <summary>
/// Changes one scope of a policy.json and keeps everything else (other scopes, other transports, their
/// order). The result is parsed strictly before it is returned: the editor never produces a file the
/// verifier would refuse.
/// </summary>
public static class PolicyEditor
{
    /// <param name="existing">The current file, or null when there is none (then the default accepts anything, as podman's editor starts).</param>
    /// <param name="scope">"default", or a docker scope (host, host/namespace, repository, reference, *.domain).</param>
    /// <param name="keyPaths">Absolute key files for signedBy and sigstoreSigned.</param>
    public static byte[] Set(byte[]? existing, string policyPath, string scope, TrustType type, IReadOnlyList<string> keyPaths)
    {
        JsonObject root;
        if (existing is null)
        {
            root = new JsonObject { ["default"] = new JsonArray(Requirement(TrustType.Accept, [])) };
        }
        else
        {
            // Refuse to edit a file that does not pass today: the operator fixes it first, knowing where.
            TrustPolicy.Parse(existing, policyPath);
            root = JsonNode.Parse(existing)!.AsObject();
        }

        var requirements = new JsonArray(Requirement(type, keyPaths));
        if (scope == "default")
        {
            root["default"] = requirements;
        }
        else
        {
            var problem = scope.Length == 0 ? "empty" : PolicyScopes.Validate("docker", scope);
            if (problem is not null)
            {
                throw new TrustException($"scope \"{UntrustedText.Printable(scope)}\": {problem} (or use \"default\")");
            }

            var transports = root["transports"] as JsonObject ?? (JsonObject)(root["transports"] = new JsonObject());
            var docker = transports["docker"] as JsonObject ?? (JsonObject)(transports["docker"] = new JsonObject());
            docker[scope] = requirements;
        }

        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            root.WriteTo(writer);
        }

        buffer.WriteByte((byte)'\n');
        var bytes = buffer.ToArray();
        TrustPolicy.Parse(bytes, policyPath);
        return bytes;
    }

    private static JsonObject Requirement(TrustType type, IReadOnlyList<string> keyPaths)
    {
        switch (type)
        {
            case TrustType.Accept:
                return new JsonObject { ["type"] = "insecureAcceptAnything" };
            case TrustType.Reject:
                return new JsonObject { ["type"] = "reject" };
        }

        if (keyPaths.Count == 0)
        {
            throw new TrustException($"--type={(type == TrustType.SignedBy ? "signedBy" : "sigstoreSigned")} needs --key=FILE");
        }

        var requirement = new JsonObject { ["type"] = type == TrustType.SignedBy ? "signedBy" : "sigstoreSigned" };
        if (type == TrustType.SignedBy)
        {
            requirement["keyType"] = "GPGKeys";
        }

        if (keyPaths.Count == 1)
        {
            requirement["keyPath"] = keyPaths[0];
        }
        else
        {
            requirement["keyPaths"] = new JsonArray(keyPaths.Select(p => (JsonNode)JsonValue.Create(p)!).ToArray());
        }

        return requirement;
    }

    /// <summary>Replaces <paramref name="path"/> with <paramref name="content"/> atomically (a reader sees the old file or the new one).</summary>
    public static void WriteAtomically(string path, byte[] content)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        try
        {
            using (var file = new FileStream(temporary, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead }))
            {
                file.Write(content);
                file.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            File.Delete(temporary);
            throw new TrustException($"cannot write the policy {path}: {RuntimeText.Describe(e)}");
        }
    }
}
