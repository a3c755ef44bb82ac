using System.CommandLine;
using Kubefly.Wrappers;

namespace Kubefly.Cli.Commands;

/// <summary>`kubefly unit kubelet|etcd|flannel [--image=...] [--image-tag=...] [-- FLAGS...]`: prints a systemd unit.</summary>
internal static class UnitCommand
{
    public static Command Create(GlobalOptionSet globals)
    {
        var name = new Argument<string>("name") { Description = "kubelet, etcd or flannel; import (a path unit that imports archives dropped into DIR/import/); or auto-update (the updater's service and daily timer)" };
        var flags = new Argument<string[]>("flags") { Description = "the app's own flags (after --)", Arity = ArgumentArity.ZeroOrMore };
        var image = new Option<string?>("--image") { Description = "full image reference (sets KUBELET_IMAGE, ETCD_IMAGE or FLANNEL_IMAGE)" };
        var imageTag = new Option<string?>("--image-tag") { Description = "image tag (sets KUBELET_IMAGE_TAG, ...)" };
        var command = new Command("unit", "print a systemd unit that runs a wrapper, in the CoreOS pattern");
        command.Arguments.Add(name);
        command.Arguments.Add(flags);
        command.Options.Add(image);
        command.Options.Add(imageTag);
        var autoUpdate = new Option<bool>("--auto-update") { Description = "opt the unit in to `kubefly auto-update` (Environment=KUBEFLY_AUTO_UPDATE=registry)" };
        command.Options.Add(autoUpdate);
        command.SetAction(result =>
        {
            var wanted = result.GetValue(name)!;
            if (wanted == "import")
            {
                Console.Out.Write(ImportUnits(globals.Read(result).Dir));
                return ExitCodes.Success;
            }

            if (wanted == "auto-update")
            {
                Console.Out.Write(AutoUpdateUnits(globals.Read(result).Dir));
                return ExitCodes.Success;
            }

            var profile = WrapperProfiles.Find(wanted)
                ?? throw new UsageException($"unknown wrapper \"{wanted}\": expected one of: {string.Join(", ", WrapperProfiles.All.Select(p => p.Name))}");
            var request = new UnitRequest(result.GetValue(image), result.GetValue(imageTag), result.GetValue(flags) ?? [], result.GetValue(autoUpdate));
            if (request.Image is null && request.ImageTag is null)
            {
                throw new UsageException($"one of --image or --image-tag is required (the wrapper needs {profile.ImageVariable} or {profile.ImageTagVariable})");
            }

            Console.Out.Write(UnitFile.Render(profile, request));
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>A path unit watching DIR/import/ and the oneshot service it starts (both printed, each under its file name).</summary>
    private static string ImportUnits(string dir) => $"""
        # /etc/systemd/system/kubefly-import.path
        [Unit]
        Description=Import image archives dropped into {dir}/import

        [Path]
        PathChanged={dir}/import
        MakeDirectory=yes
        DirectoryMode=0755

        [Install]
        WantedBy=multi-user.target

        # /etc/systemd/system/kubefly-import.service
        [Unit]
        Description=Import image archives from {dir}/import

        [Service]
        Type=oneshot
        ExecStart=/usr/bin/kubefly --dir={dir} image import --pending

        """;

    /// <summary>
    /// The updater's oneshot service and its timer: daily, each node at its own fixed time within the
    /// hour (RandomizedDelaySec with FixedRandomDelay), Persistent so a node that was off catches up.
    /// </summary>
    private static string AutoUpdateUnits(string dir) => $"""
        # /etc/systemd/system/kubefly-auto-update.service
        [Unit]
        Description=Update the images of units that opted in (KUBEFLY_AUTO_UPDATE=registry)
        Documentation=man:kubefly-auto-update(1)
        Wants=network-online.target
        After=network-online.target

        [Service]
        Type=oneshot
        ExecStart=/usr/bin/kubefly --dir={dir} auto-update

        # /etc/systemd/system/kubefly-auto-update.timer
        [Unit]
        Description=Daily kubefly auto-update

        [Timer]
        OnCalendar=daily
        RandomizedDelaySec=1h
        FixedRandomDelay=yes
        Persistent=true

        [Install]
        WantedBy=timers.target

        """;
}
