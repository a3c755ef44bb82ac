using System.CommandLine;
using System.Text.Json;
using Kubefly.Oci;
using Kubefly.Trust.Policy;
using Kubefly.Trust.Signatures;

namespace Kubefly.Cli.Commands;

/// <summary>`trust [IMAGE]` shows the policy (or what it requires of one image); `trust set` edits it, as `podman image trust` does.</summary>
internal static class TrustCommand
{
    public static Command Create(GlobalOptionSet globals)
    {
        var image = new Argument<string?>("IMAGE") { Description = "show the requirement that applies to this image (default: list the whole policy)", Arity = ArgumentArity.ZeroOrOne };
        var format = new Option<string?>("--format") { Description = "json or json-pretty" };
        var command = new Command("trust", "show the trust policy (containers-policy.json(5)) kubefly verifies images by") { image, format };
        command.SetAction(result =>
        {
            var options = globals.Read(result);
            var (path, _) = TrustPolicy.Locate(options.Policy);
            var policy = File.Exists(path) ? TrustPolicy.Load(path) : null;
            var json = result.GetValue(format);
            if (json is not (null or "json" or "json-pretty"))
            {
                throw new UsageException($"invalid --format \"{json}\": expected json or json-pretty");
            }

            var report = result.GetValue(image) is { } name ? ForImage(policy, path, ImageReference.Parse(name)) : ForPolicy(policy, path);
            if (json is not null)
            {
                var context = CliJsonContext.For(json);
                Console.Out.WriteLine(JsonSerializer.Serialize(report, context.TrustReport));
                return ExitCodes.Success;
            }

            Print(report);
            return ExitCodes.Success;
        });
        command.Subcommands.Add(Set(globals));
        return command;
    }

    private static Command Set(GlobalOptionSet globals)
    {
        var scope = new Argument<string>("SCOPE") { Description = "\"default\", or a registry scope: HOST[:PORT], HOST/NAMESPACE, a repository, a reference with :TAG or @DIGEST, or *.DOMAIN" };
        var type = new Option<string>("--type", "-t") { Description = "accept (insecureAcceptAnything), reject, signedBy (GPG keys), sigstoreSigned (cosign public keys)", Required = true };
        var keys = new Option<string[]>("--key", "-f") { Description = "public key file for signedBy (an exported GPG keyring) or sigstoreSigned (cosign.pub); repeat for several", AllowMultipleArgumentsPerToken = false };
        var command = new Command("set", "set the requirement for a scope in the policy file, keeping its other entries (writes atomically)") { scope, type, keys };
        command.SetAction(result =>
        {
            var options = globals.Read(result);
            var (path, _) = TrustPolicy.Locate(options.Policy);
            var trustType = result.GetValue(type) switch
            {
                "accept" or "insecureAcceptAnything" => TrustType.Accept,
                "reject" => TrustType.Reject,
                "signedBy" => TrustType.SignedBy,
                "sigstoreSigned" => TrustType.SigstoreSigned,
                var other => throw new UsageException($"invalid --type \"{other}\": expected accept, reject, signedBy or sigstoreSigned"),
            };
            var keyPaths = (result.GetValue(keys) ?? []).Select(Path.GetFullPath).ToList();
            if (trustType is TrustType.Accept or TrustType.Reject && keyPaths.Count > 0)
            {
                throw new UsageException($"--key is only for signedBy and sigstoreSigned, not --type={result.GetValue(type)}");
            }

            CheckKeys(trustType, keyPaths);
            var existing = File.Exists(path) ? File.ReadAllBytes(path) : null;
            var updated = PolicyEditor.Set(existing, path, result.GetValue(scope)!, trustType, keyPaths);
            PolicyEditor.WriteAtomically(path, updated);
            Console.Error.WriteLine($"trust set: {path}: {result.GetValue(scope)} now requires {result.GetValue(type)}{(keyPaths.Count > 0 ? $" ({string.Join(", ", keyPaths)})" : string.Empty)}");
            if (existing is null)
            {
                Console.Error.WriteLine("trust set: created the policy with a default that accepts any image; lock it down with `kubefly trust set --type=reject default`");
            }

            if (trustType == TrustType.SignedBy)
            {
                Console.Error.WriteLine($"trust set: signedBy reads GPG signatures from the lookaside store registries.d names ({RegistriesD.SystemDirectory}/*.yaml, \"lookaside: URL\")");
            }

            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>A key the verifier could not read would deny every image of the scope: check it now, while the operator is here.</summary>
    private static void CheckKeys(TrustType type, List<string> keyPaths)
    {
        var keys = keyPaths.Select(p => (Description: $"key file {p}", Bytes: new KeySource(p, null).Read(1 << 20))).ToList();
        if (type == TrustType.SignedBy)
        {
            SimpleSigningVerifier.FromKeyrings(keys);
        }
        else if (type == TrustType.SigstoreSigned)
        {
            SigstoreVerifier.FromPem(keys).Dispose();
        }
    }

    private static TrustReport ForPolicy(TrustPolicy? policy, string path)
    {
        if (policy is null)
        {
            return new TrustReport { Policy = path, Exists = false, Scopes = [] };
        }

        var scopes = new List<TrustScopeEntry> { Entry("*", "default", policy.Default) };
        foreach (var (transport, entries) in policy.Transports)
        {
            scopes.AddRange(entries.Select(e => Entry(transport, e.Key.Length == 0 ? "\"\" (transport default)" : e.Key, e.Value)));
        }

        return new TrustReport { Policy = path, Exists = true, Scopes = scopes };
    }

    private static TrustReport ForImage(TrustPolicy? policy, string path, ImageReference reference)
    {
        if (policy is null)
        {
            return new TrustReport { Policy = path, Exists = false, Image = reference.ToString(), Scopes = [] };
        }

        var match = policy.Match(reference);
        var storage = RegistriesD.LoadDefault(null).For(reference);
        return new TrustReport
        {
            Policy = path,
            Exists = true,
            Image = reference.ToString(),
            Scopes = [Entry(PolicyScopes.TransportName(reference.Transport), match.Scope, match.Requirements)],
            Lookaside = storage.Lookaside?.ToString(),
            SigstoreAttachments = reference.Transport == ImageTransport.Docker ? $"{reference.Name}:sha256-HEX.sig (HEX: the manifest digest)" : null,
        };
    }

    private static TrustScopeEntry Entry(string transport, string scope, IReadOnlyList<PolicyRequirement> requirements) => new()
    {
        Transport = transport,
        Scope = scope,
        Requirements = requirements.Count == 0 ? ["(none: denies every image)"] : requirements.Select(r => $"{r.Describe()} (line {r.Line})").ToList(),
    };

    private static void Print(TrustReport report)
    {
        if (!report.Exists)
        {
            Console.Out.WriteLine($"no policy at {report.Policy}: rkt's rule applies (docker images need --insecure-options=image, and nothing is verified)");
            Console.Out.WriteLine("create one with `kubefly trust set --type=sigstoreSigned --key=cosign.pub SCOPE` (see `kubefly trust set --help`)");
            return;
        }

        Console.Out.WriteLine($"policy: {report.Policy}");
        if (report.Image is { } image)
        {
            var entry = report.Scopes[0];
            Console.Out.WriteLine($"image: {image}");
            Console.Out.WriteLine($"scope: {entry.Scope}");
            foreach (var requirement in entry.Requirements)
            {
                Console.Out.WriteLine($"requires: {requirement}");
            }

            Console.Out.WriteLine($"GPG signatures from: {report.Lookaside ?? "(no lookaside store in registries.d)"}");
            if (report.SigstoreAttachments is { } attachments)
            {
                Console.Out.WriteLine($"cosign signatures from: {attachments}");
            }

            return;
        }

        var table = new TextTable(["TRANSPORT", "SCOPE", "REQUIREMENTS"]);
        foreach (var entry in report.Scopes)
        {
            table.Add([entry.Transport, entry.Scope, string.Join("; ", entry.Requirements)]);
        }

        table.Write(Console.Out, legend: true);
    }
}
