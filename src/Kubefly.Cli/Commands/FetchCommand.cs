using System.CommandLine;
using Kubefly.Images;
using Kubefly.Oci;

namespace Kubefly.Cli.Commands;

internal static class FetchCommand
{
    public static Command Create(GlobalOptionSet globals)
    {
        var image = new Argument<string[]>("IMAGE") { Description = "image to fetch: docker://HOST/NAME:TAG, NAME[:TAG], oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE", Arity = ArgumentArity.OneOrMore };
        var policy = PullPolicyOption.Create();
        var platform = new Option<string?>("--platform") { Description = "OS/ARCH[/VARIANT] to choose from a multi-platform image (default: this host)" };
        var full = new Option<bool>("--full") { Description = "accepted for rkt compatibility (the full digest is always printed)" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "no progress output" };
        var partial = new Option<bool>("--partial") { Description = "pull zstd:chunked layers partially: only the files the store lacks, by range request (=false: whole layers, and their blobs kept for export)", DefaultValueFactory = _ => true };
        var command = new Command("fetch", "fetch image(s) into the store and print their ID (the manifest digest)") { image, policy, platform, full, quiet, partial };
        command.SetAction(result =>
        {
            var services = new ImageServices(globals.Read(result), PullProgressDisplay.For(result.GetValue(quiet)), result.GetValue(platform) is { } p ? Platform.Parse(p) : null);
            services.Puller.PartialPulls = result.GetValue(partial);
            foreach (var name in result.GetValue(image)!)
            {
                var record = services.AcquireAsync(name, PullPolicyOption.Parse(result.GetValue(policy)), CancellationToken.None).GetAwaiter().GetResult();
                Console.Out.WriteLine(record.ManifestDigest.ToString());
            }

            return ExitCodes.Success;
        });
        return command;
    }
}

internal static class PullPolicyOption
{
    public static Option<string> Create() => new("--pull-policy") { Description = "new (fetch if missing), never (store only), update (always check the source)", DefaultValueFactory = _ => "new" };

    public static PullPolicy Parse(string? text) => text switch
    {
        null or "new" => PullPolicy.New,
        "never" => PullPolicy.Never,
        "update" => PullPolicy.Update,
        _ => throw new UsageException($"invalid --pull-policy \"{UntrustedText.Printable(text)}\": expected new, never or update"),
    };
}
