using System.CommandLine;
using System.Text.Json;
using Kubefly.Images;
using Kubefly.Oci;
using Kubefly.Pods;
using Kubefly.Trust;
using Kubefly.Trust.Policy;
using Kubefly.Trust.Signatures;

namespace Kubefly.Cli.Commands;

/// <summary>`image list|rm|gc|export|extract|render|cat-manifest`.</summary>
internal static class ImageCommand
{
    public static Command Create(GlobalOptionSet globals)
    {
        var command = new Command("image", "operate on images in the store");
        command.Subcommands.Add(List(globals));
        command.Subcommands.Add(Remove(globals));
        command.Subcommands.Add(Gc(globals));
        command.Subcommands.Add(Export(globals));
        command.Subcommands.Add(Extract(globals, "extract", "extract an image's rootfs into a directory"));
        command.Subcommands.Add(Extract(globals, "render", "render an image's rootfs into a directory (same as extract for OCI images)"));
        command.Subcommands.Add(CatManifest(globals));
        command.Subcommands.Add(Sign(globals));
        command.Subcommands.Add(Import(globals));
        return command;
    }

    private static ImageServices Services(GlobalOptionSet globals, ParseResult result) => new(globals.Read(result), SilentProgress.Instance);

    private static Command List(GlobalOptionSet globals)
    {
        var full = new Option<bool>("--full") { Description = "full image IDs" };
        var noLegend = new Option<bool>("--no-legend") { Description = "no header line" };
        var format = new Option<string?>("--format") { Description = "json or json-pretty" };
        var fields = new Option<string?>("--fields") { Description = "comma-separated: id,name,size,importtime,lastused,verified" };
        var command = new Command("list", "list images in the store") { full, noLegend, format, fields };
        command.SetAction(result =>
        {
            var store = Services(globals, result).Store;
            var records = store.ListRecords();
            var corrupt = store.ListCorruptRecords();
            var json = result.GetValue(format);
            if (json is "json" or "json-pretty")
            {
                var items = records.Select(r => new ImageListItem
                {
                    Id = r.ManifestDigest.ToString(),
                    Name = r.Names.Count > 0 ? r.Names[0] : string.Empty,
                    ImportTime = r.ImportTime.ToUnixTimeMilliseconds() * 1_000_000,
                    LastUsedTime = r.LastUsed.ToUnixTimeMilliseconds() * 1_000_000,
                    Size = r.Size,
                    Verified = r.Verified.Length > 0 ? r.Verified : null,
                }).Concat(corrupt.Select(c => new ImageListItem
                {
                    Id = c.ManifestDigest?.ToString() ?? string.Empty,
                    Name = string.Empty,
                    Corrupt = c.Problem,
                    File = c.File,
                })).ToList();
                var context = CliJsonContext.For(json);
                Console.Out.WriteLine(JsonSerializer.Serialize(items, context.ListImageListItem));
                return ExitCodes.Success;
            }

            if (json is not null)
            {
                throw new UsageException($"invalid --format \"{json}\": expected json or json-pretty");
            }

            var columns = (result.GetValue(fields) ?? "id,name,size,importtime,lastused").Split(',');
            var table = new TextTable(columns.Select(c => c switch
            {
                "id" => "ID",
                "name" => "NAME",
                "size" => "SIZE",
                "importtime" => "IMPORT TIME",
                "lastused" => "LAST USED",
                "verified" => "VERIFIED",
                _ => throw new UsageException($"unknown field \"{c}\" for --fields (id,name,size,importtime,lastused,verified)"),
            }).ToArray());
            var now = DateTimeOffset.UtcNow;
            foreach (var record in records)
            {
                table.Add(columns.Select(c => c switch
                {
                    "id" => result.GetValue(full) ? record.ManifestDigest.ToString() : record.ManifestDigest.ShortId(),
                    "name" => record.Names.Count > 0 ? string.Join(",", record.Names) : "<none>",
                    "size" => PullProgressDisplay.FormatBytes(record.Size),
                    "importtime" => TextTable.Ago(now - record.ImportTime),
                    "verified" => record.Verified.Length > 0 ? record.Verified : "-",
                    _ => TextTable.Ago(now - record.LastUsed),
                }).ToArray());
            }

            foreach (var bad in corrupt)
            {
                table.Add(columns.Select(c => c switch
                {
                    "id" => bad.ManifestDigest is not { } id ? "-" : result.GetValue(full) ? id.ToString() : id.ShortId(),
                    "name" => $"<corrupt record {bad.File}>",
                    _ => "-",
                }).ToArray());
            }

            table.Write(Console.Out, legend: !result.GetValue(noLegend));
            foreach (var bad in corrupt)
            {
                Console.Error.WriteLine($"image list: corrupt image record {bad.File}: {bad.Problem} (remove it with `image rm {Path.GetFileName(bad.File)}` or `image gc`)");
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Remove(GlobalOptionSet globals)
    {
        var images = new Argument<string[]>("IMAGE") { Description = "image IDs or names", Arity = ArgumentArity.OneOrMore };
        var command = new Command("rm", "remove images from the store") { images };
        command.SetAction(result =>
        {
            var store = Services(globals, result).Store;
            using var storeLock = store.LockStore(exclusive: true);
            var failed = 0;
            var removed = 0;
            foreach (var name in result.GetValue(images)!)
            {
                try
                {
                    if (store.Find(name) is { } record)
                    {
                        store.Remove(record);
                        Console.Out.WriteLine($"successfully removed image \"{record.ManifestDigest}\"");
                    }
                    else
                    {
                        var corrupt = store.FindCorrupt(name) ?? throw new ImageException($"image \"{UntrustedText.Printable(name)}\" not found");
                        store.RemoveCorrupt(corrupt);
                        Console.Out.WriteLine($"successfully removed corrupt image record \"{corrupt.File}\"");
                    }

                    removed++;
                }
                catch (KubeflyException e)
                {
                    Console.Error.WriteLine($"image rm: {ExitCodes.Describe(e)}");
                    failed++;
                }
            }

            Console.Error.WriteLine($"image rm: {removed} image(s) successfully removed");
            return failed == 0 ? ExitCodes.Success : ExitCodes.Engine;
        });
        return command;
    }

    private static Command Gc(GlobalOptionSet globals)
    {
        var grace = new Option<string>("--grace-period") { Description = "images not used for this long are removed", DefaultValueFactory = _ => "24h0m0s" };
        var command = new Command("gc", "remove images not used within the grace period, and unreferenced content") { grace };
        command.SetAction(result =>
        {
            var period = GoDuration.Parse(result.GetValue(grace)!);
            var store = Services(globals, result).Store;
            using var storeLock = store.LockStore(exclusive: true);
            var cutoff = DateTimeOffset.UtcNow - period;
            foreach (var record in store.ListRecords())
            {
                if (record.LastUsed < cutoff && !store.IsInUse(record.ManifestDigest))
                {
                    Console.Out.WriteLine($"removing image \"{record.ManifestDigest}\"");
                    store.Remove(record);
                }
            }

            foreach (var corrupt in store.ListCorruptRecords())
            {
                if (corrupt.ManifestDigest is { } digest && store.PinnedBy(digest).Count > 0)
                {
                    Console.Error.WriteLine($"image gc: keeping corrupt image record {corrupt.File}: pods use it");
                    continue;
                }

                Console.Out.WriteLine($"removing corrupt image record \"{corrupt.File}\" ({corrupt.Problem})");
                store.RemoveCorrupt(corrupt);
            }

            store.DeleteUnreferencedContent();
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Export(GlobalOptionSet globals)
    {
        var image = new Argument<string>("IMAGE");
        var file = new Argument<string>("FILE");
        var overwrite = new Option<bool>("--overwrite") { Description = "replace FILE if it exists" };
        var command = new Command("export", "write a stored image as an oci-archive") { image, file, overwrite };
        command.SetAction(result =>
        {
            var services = Services(globals, result);
            ImageExporter.ExportOciArchive(services.Store, services.Require(result.GetValue(image)!), result.GetValue(file)!, result.GetValue(overwrite));
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Extract(GlobalOptionSet globals, string name, string description)
    {
        var image = new Argument<string>("IMAGE");
        var directory = new Argument<string>("DIR");
        var rootfsOnly = new Option<bool>("--rootfs-only") { Description = "write only the rootfs, directly into DIR" };
        var overwrite = new Option<bool>("--overwrite") { Description = "replace DIR's content" };
        var command = new Command(name, description) { image, directory, rootfsOnly, overwrite };
        command.SetAction(result =>
        {
            var services = Services(globals, result);
            ImageExporter.Extract(services.Store, services.Require(result.GetValue(image)!), Path.GetFullPath(result.GetValue(directory)!), result.GetValue(rootfsOnly), result.GetValue(overwrite), CancellationToken.None);
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Import(GlobalOptionSet globals)
    {
        var files = new Argument<string[]>("FILE") { Description = "an OCI archive or `docker save` output, plain or compressed with gzip or zstd", Arity = ArgumentArity.ZeroOrMore };
        var pending = new Option<bool>("--pending") { Description = "import the archives waiting in DIR/import/ (what `kubefly unit import`'s path unit runs)" };
        var name = new Option<string?>("--name") { Description = "the name to store the image under (default: the names the archive gives it); one FILE only" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "no progress output" };
        var command = new Command("import", "load image archives into the store (for nodes without a registry), verified by the trust policy as a fetch is") { files, name, quiet, pending };
        command.SetAction(result =>
        {
            var paths = result.GetValue(files) ?? [];
            if (result.GetValue(pending))
            {
                if (paths.Length > 0 || result.GetValue(name) is not null)
                {
                    throw new UsageException("image import: --pending takes no FILE and no --name");
                }

                var pendingServices = new ImageServices(globals.Read(result), PullProgressDisplay.For(result.GetValue(quiet)));
                pendingServices.ImportDirectory.ImportPendingAsync(CancellationToken.None).GetAwaiter().GetResult();
                return ExitCodes.Success;
            }

            if (paths.Length == 0)
            {
                throw new UsageException("image import: name at least one FILE (or --pending)");
            }

            if (result.GetValue(name) is not null && paths.Length > 1)
            {
                throw new UsageException("image import: --name names one image: give one FILE with it");
            }

            var services = new ImageServices(globals.Read(result), PullProgressDisplay.For(result.GetValue(quiet)));
            var importer = new ImageImporter(services.Store, services.Puller);
            foreach (var path in paths)
            {
                var record = importer.ImportAsync(path, result.GetValue(name), CancellationToken.None).GetAwaiter().GetResult();
                Console.Out.WriteLine($"{record.ManifestDigest} {string.Join(",", record.Names)}");
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Sign(GlobalOptionSet globals)
    {
        var image = new Argument<string>("IMAGE") { Description = "registry image to sign: HOST/NAME:TAG (the registry's current digest for the tag is signed)" };
        var key = new Option<string>("--key") { Description = "unencrypted PEM private key (ECDSA or RSA) whose public half the policy trusts", Required = true };
        var command = new Command("sign", "sign a registry image in cosign's format and attach the signature at its sha256-HEX.sig tag") { image, key };
        command.SetAction(result =>
        {
            var reference = ImageReference.Parse(result.GetValue(image)!);
            if (reference.Transport != ImageTransport.Docker)
            {
                throw new UsageException($"image sign: {reference} is not a registry image (cosign signatures live in a registry)");
            }

            var keyPath = Path.GetFullPath(result.GetValue(key)!);
            using var signer = SigstoreSigner.FromPem($"key file {keyPath}", new KeySource(keyPath, null).Read(1 << 20));
            var services = Services(globals, result);
            using var source = services.OpenRegistrySource(reference);
            var manifest = source.GetManifestAsync(reference.Digest, CancellationToken.None).GetAwaiter().GetResult();
            var payload = SigstoreSigner.Payload(DockerIdentity.From(reference), manifest.Digest);
            source.AttachSignatureAsync(manifest.Digest, new AttachedSignature(payload, signer.Sign(payload)), existing => signer.Made(payload, existing), CancellationToken.None).GetAwaiter().GetResult();
            Console.Out.WriteLine(manifest.Digest.ToString());
            Console.Error.WriteLine($"image sign: signed {reference} ({manifest.Digest}); the signature is attached at {reference.Name}:{PolicyVerifier.SigstoreTag(manifest.Digest)}");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command CatManifest(GlobalOptionSet globals)
    {
        var image = new Argument<string>("IMAGE");
        var pretty = new Option<bool>("--pretty-print") { Description = "indent the JSON" };
        var command = new Command("cat-manifest", "print an image's manifest") { image, pretty };
        command.SetAction(result =>
        {
            var services = Services(globals, result);
            var bytes = services.Store.ReadBlob(services.Require(result.GetValue(image)!).ManifestDigest);
            if (result.GetValue(pretty))
            {
                using var document = JsonDocument.Parse(bytes);
                using var output = Console.OpenStandardOutput();
                using (var writer = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true }))
                {
                    document.WriteTo(writer);
                }

                output.Write("\n"u8);
            }
            else
            {
                using var output = Console.OpenStandardOutput();
                output.Write(bytes);
                output.Write("\n"u8);
            }

            return ExitCodes.Success;
        });
        return command;
    }
}
