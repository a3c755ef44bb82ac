using Kubefly.Linux;
using Kubefly.Wrappers;

namespace Kubefly.Tests.Unit.Wrappers;

public class WrapperComposerTests
{
    private static readonly string[] SeedKubeletFlags = ["--api-servers=http://127.0.0.1:8080", "--pod-manifest-path=/etc/kubernetes/manifests"];

    private static WrapperInvocation Kubelet(Dictionary<string, string> env, IReadOnlyList<string>? args = null, HostView? host = null) =>
        WrapperComposer.Compose(WrapperProfiles.Kubelet, env, args ?? SeedKubeletFlags, host ?? TestHost.CoreOs());

    private static string[] KubeletArgv(string[] runArgs, string image = "docker://quay.io/coreos/hyperkube:v1.5.4_coreos.0", string[]? imageArgs = null, string[]? appArgs = null) =>
    [
        "/usr/bin/rkt", "run", .. runArgs, .. TestHost.KubeletSystemArgs,
        "--stage1-from-dir=stage1-fly.aci", image, .. imageArgs ?? ["--exec=/kubelet"], "--", .. appArgs ?? SeedKubeletFlags,
    ];

    // --- The seed's units, each one's environment giving the exact argv -------------------------------

    [Fact]
    public void Seed_basic_unit()
    {
        var invocation = Kubelet(TestHost.Env(("KUBELET_IMAGE_TAG", "v1.5.4_coreos.0"), ("RKT_RUN_ARGS", "--uuid-file-save=/var/run/kubelet-pod.uuid")));

        Assert.Equal(KubeletArgv(["--uuid-file-save=/var/run/kubelet-pod.uuid", "--insecure-options=image"]), invocation.Argv);
        Assert.Empty(invocation.Notices);
        Assert.Equal(["/var/lib/kubelet"], invocation.SharedMountPoints);
        Assert.Equal(["/etc/kubernetes", "/var/lib/docker", "/var/lib/kubelet", "/run/kubelet"], invocation.Directories.Select(d => d.Path));
    }

    [Fact]
    public void Seed_host_dns_unit_splits_the_continued_environment_line()
    {
        // systemd joins `\`-continued lines with a space and keeps the next line's indentation.
        var runArgs = "--volume=resolv,kind=host,source=/etc/resolv.conf   --mount volume=resolv,target=/etc/resolv.conf   --uuid-file-save=/var/run/kubelet-pod.uuid";
        var invocation = Kubelet(TestHost.Env(("KUBELET_IMAGE_TAG", "v1.5.4_coreos.0"), ("RKT_RUN_ARGS", runArgs)));

        Assert.Equal(
            KubeletArgv(["--volume=resolv,kind=host,source=/etc/resolv.conf", "--mount", "volume=resolv,target=/etc/resolv.conf", "--uuid-file-save=/var/run/kubelet-pod.uuid", "--insecure-options=image"]),
            invocation.Argv);
    }

    [Fact]
    public void Seed_iscsi_unit()
    {
        var runArgs = "--volume iscsiadm,kind=host,source=/usr/sbin/iscsiadm    --mount volume=iscsiadm,target=/usr/sbin/iscsiadm    --uuid-file-save=/var/run/kubelet-pod.uuid";
        var invocation = Kubelet(TestHost.Env(("KUBELET_IMAGE_TAG", "v1.5.4_coreos.0"), ("RKT_RUN_ARGS", runArgs)));

        Assert.Equal(
            KubeletArgv(["--volume", "iscsiadm,kind=host,source=/usr/sbin/iscsiadm", "--mount", "volume=iscsiadm,target=/usr/sbin/iscsiadm", "--uuid-file-save=/var/run/kubelet-pod.uuid", "--insecure-options=image"]),
            invocation.Argv);
    }

    [Fact]
    public void Seed_rbd_unit_user_lib_modules_volume_does_not_clash_with_the_system_one()
    {
        var runArgs = "--volume modprobe,kind=host,source=/usr/sbin/modprobe    --mount volume=modprobe,target=/usr/sbin/modprobe    --volume lib-modules,kind=host,source=/lib/modules    --mount volume=lib-modules,target=/lib/modules    --uuid-file-save=/var/run/kubelet-pod.uuid";
        var invocation = Kubelet(TestHost.Env(("KUBELET_IMAGE_TAG", "v1.5.4_coreos.0"), ("RKT_RUN_ARGS", runArgs)));

        Assert.Equal(
            KubeletArgv(
            [
                "--volume", "modprobe,kind=host,source=/usr/sbin/modprobe", "--mount", "volume=modprobe,target=/usr/sbin/modprobe",
                "--volume", "lib-modules,kind=host,source=/lib/modules", "--mount", "volume=lib-modules,target=/lib/modules",
                "--uuid-file-save=/var/run/kubelet-pod.uuid", "--insecure-options=image",
            ]),
            invocation.Argv);
        var volumeNames = invocation.Argv.Where((_, i) => i > 0 && invocation.Argv[i - 1] == "--volume").Select(v => v.Split(',')[0]).ToList();
        Assert.Equal(volumeNames.Count, volumeNames.Distinct().Count());
    }

    [Fact]
    public void Seed_manual_deployment_unit_has_the_same_argv_under_any_wrapper_path()
    {
        var invocation = Kubelet(TestHost.Env(("KUBELET_IMAGE_TAG", "v1.5.4_coreos.0")));

        Assert.Equal(KubeletArgv(["--insecure-options=image"]), invocation.Argv);
    }

    // --- Variables and defaults -------------------------------------------------------------------

    [Fact]
    public void Every_kubelet_variable_lands_in_its_place()
    {
        var invocation = Kubelet(
            TestHost.Env(
                ("RKT", "/opt/bin/rkt"),
                ("RKT_GLOBAL_ARGS", "--dir=/var/lib/kf --debug"),
                ("RKT_RUN_ARGS", "--set-env=A=1"),
                ("RKT_STAGE1_ARG", "--stage1-name=fly"),
                ("KUBELET_IMAGE", "example.com/kubelet:v9"),
                ("KUBELET_IMAGE_ARGS", "--exec=/hyperkube --environment=X=1")),
            ["kubelet", "--v=2"]);

        Assert.Equal(
            (string[])
            [
                "/opt/bin/rkt", "--dir=/var/lib/kf", "--debug", "run", "--set-env=A=1", .. TestHost.KubeletSystemArgs,
                "--stage1-name=fly", "example.com/kubelet:v9", "--exec=/hyperkube", "--environment=X=1", "--", "kubelet", "--v=2",
            ],
            invocation.Argv);
    }

    [Fact]
    public void Image_url_and_tag_make_the_image_and_kubelet_image_overrides_both()
    {
        var fromParts = Kubelet(TestHost.Env(("KUBELET_IMAGE_URL", "docker://registry.local/hyperkube"), ("KUBELET_IMAGE_TAG", "v1.6")));
        Assert.Contains("docker://registry.local/hyperkube:v1.6", fromParts.Argv);

        var overridden = Kubelet(TestHost.Env(("KUBELET_IMAGE", "docker://other/kubelet:x"), ("KUBELET_IMAGE_URL", "docker://registry.local/hyperkube"), ("KUBELET_IMAGE_TAG", "v1.6")));
        Assert.Contains("docker://other/kubelet:x", overridden.Argv);
        Assert.DoesNotContain(overridden.Argv, word => word.Contains("registry.local", StringComparison.Ordinal));
    }

    [Fact]
    public void Empty_variables_count_as_unset_like_the_shell()
    {
        var invocation = Kubelet(TestHost.Env(("KUBELET_IMAGE_TAG", "v1"), ("KUBELET_IMAGE_URL", string.Empty), ("RKT", string.Empty), ("KUBELET_IMAGE_ARGS", string.Empty)));

        Assert.Equal("/usr/bin/rkt", invocation.Argv[0]);
        Assert.Contains("docker://quay.io/coreos/hyperkube:v1", invocation.Argv);
        Assert.Contains("--exec=/kubelet", invocation.Argv);
    }

    [Fact]
    public void Deprecated_kubelet_variables_print_their_lines_and_still_work()
    {
        var invocation = Kubelet(TestHost.Env(("KUBELET_VERSION", "v1.4.0"), ("KUBELET_ACI", "quay.io/old/hyperkube"), ("RKT_OPTS", "--set-env=OLD=1"), ("RKT_RUN_ARGS", "--set-env=NEW=1")));

        Assert.Equal(
            [
                "KUBELET_VERSION environment variable is deprecated, please use KUBELET_IMAGE_TAG instead",
                "KUBELET_ACI environment variable is deprecated, please use the KUBELET_IMAGE_URL instead",
                "RKT_OPTS environment variable is deprecated, please use the RKT_RUN_ARGS instead",
            ],
            invocation.Notices);
        Assert.Contains("quay.io/old/hyperkube:v1.4.0", invocation.Argv);

        // RKT_OPTS is appended after RKT_RUN_ARGS, then the quay.io flag.
        var run = invocation.Argv.ToList().IndexOf("run");
        Assert.Equal(["--set-env=NEW=1", "--set-env=OLD=1", "--trust-keys-from-https"], invocation.Argv.Skip(run + 1).Take(3));
    }

    [Fact]
    public void New_names_win_over_deprecated_ones()
    {
        var invocation = Kubelet(TestHost.Env(("KUBELET_VERSION", "old"), ("KUBELET_IMAGE_TAG", "new"), ("KUBELET_ACI", "docker://old/img"), ("KUBELET_IMAGE_URL", "docker://new/img")));

        Assert.Contains("docker://new/img:new", invocation.Argv);
        Assert.Equal(2, invocation.Notices.Count);
    }

    // --- The quay.io / docker:// rule and Flatcar's exception --------------------------------------------

    [Theory]
    [InlineData("quay.io/coreos/hyperkube:v1", "", "--trust-keys-from-https")]
    [InlineData("docker://quay.io/coreos/hyperkube:v1", "", "--insecure-options=image")]
    [InlineData("docker://127.0.0.1:5000/kubelet:v1", "", "--insecure-options=image")]
    [InlineData("example.com/kubelet:v1", "", null)]
    [InlineData("quay.io/coreos/hyperkube:v1", "--trust-keys-from-https=false", null)]
    [InlineData("docker://quay.io/coreos/hyperkube:v1", "--insecure-options=image,http", null)]
    [InlineData("docker://quay.io/coreos/hyperkube:v1", "--trust-keys-from-https", "--insecure-options=image")]
    [InlineData("quay.io/coreos/hyperkube:v1", "--insecure-options=image", "--trust-keys-from-https")]
    public void Image_source_flag(string image, string runArgs, string? added)
    {
        var invocation = Kubelet(TestHost.Env(("KUBELET_IMAGE", image), ("RKT_RUN_ARGS", runArgs)));

        var run = invocation.Argv.ToList().IndexOf("run");
        var userArgs = ShellWords.Split(runArgs);
        var afterUser = invocation.Argv[run + 1 + userArgs.Count];
        if (added is null)
        {
            Assert.Equal("--volume", afterUser);
        }
        else
        {
            Assert.Equal(added, afterUser);
            Assert.Equal("--volume", invocation.Argv[run + 2 + userArgs.Count]);
        }
    }

    [Fact]
    public void Flatcar_exception_also_sees_rkt_opts()
    {
        var invocation = Kubelet(TestHost.Env(("KUBELET_IMAGE_TAG", "v1"), ("RKT_OPTS", "--insecure-options=image,http")));

        Assert.DoesNotContain("--insecure-options=image", invocation.Argv);
        Assert.Contains("--insecure-options=image,http", invocation.Argv);
    }

    // --- Word splitting ------------------------------------------------------------------------------

    [Fact]
    public void Variables_split_on_space_tab_newline_with_quotes_kept_literal()
    {
        var invocation = Kubelet(
            TestHost.Env(("KUBELET_IMAGE_TAG", "v1"), ("RKT_RUN_ARGS", "  --set-env=A=\"x y\"\t--set-env=B='1'\n\n--debug  ")),
            ["--node-labels=a=b c", "", "$HOME"]);

        var run = invocation.Argv.ToList().IndexOf("run");
        Assert.Equal(["--set-env=A=\"x", "y\"", "--set-env=B='1'", "--debug"], invocation.Argv.Skip(run + 1).Take(4));

        // "$@" is passed as is: a space inside, an empty argument, a dollar sign.
        Assert.Equal(["--", "--node-labels=a=b c", "", "$HOME"], invocation.Argv.TakeLast(4));
    }

    [Fact]
    public void Trace_prints_like_set_x()
    {
        var invocation = Kubelet(TestHost.Env(("KUBELET_IMAGE_TAG", "v1")), ["--node-labels=a b", "it's"]);

        Assert.StartsWith("+ /usr/bin/rkt run --insecure-options=image --volume coreos-etc-kubernetes,kind=host,source=/etc/kubernetes,readOnly=false ", invocation.Trace, StringComparison.Ordinal);
        Assert.EndsWith(" -- '--node-labels=a b' 'it'\\''s'", invocation.Trace, StringComparison.Ordinal);
    }

    // --- Missing host sources -----------------------------------------------------------------------------

    [Fact]
    public void A_missing_system_volume_source_is_skipped_with_a_notice_but_created_dirs_are_kept()
    {
        // A bare host: no /lib/modules, no certificates; the four kubelet dirs are created by the wrapper.
        var host = TestHost.With(["/var/log", "/usr/lib/os-release", "/run", "/etc/machine-id"]);
        var invocation = Kubelet(TestHost.Env(("KUBELET_IMAGE_TAG", "v1")), host: host);

        Assert.Equal(
            [
                "kubelet-wrapper: skipping volume coreos-etc-ssl-certs: /etc/ssl/certs does not exist on this host",
                "kubelet-wrapper: skipping volume coreos-usr-share-certs: /usr/share/ca-certificates does not exist on this host",
                "kubelet-wrapper: skipping volume coreos-lib-modules: /lib/modules does not exist on this host",
            ],
            invocation.Notices);
        Assert.DoesNotContain(invocation.Argv, word => word.Contains("coreos-lib-modules", StringComparison.Ordinal));
        Assert.Contains("coreos-etc-kubernetes,kind=host,source=/etc/kubernetes,readOnly=false", invocation.Argv);
        Assert.Contains("volume=coreos-var-lib-kubelet,target=/var/lib/kubelet", invocation.Argv);
    }

    // --- etcd-wrapper ------------------------------------------------------------------------------------

    [Fact]
    public void Etcd_member_unit_under_systemd_gives_the_original_order()
    {
        var env = TestHost.Env(
            ("ETCD_IMAGE_TAG", "v3.1.8"), ("ETCD_IMAGE_URL", "quay.io/coreos/etcd"), ("ETCD_USER", "etcd"), ("ETCD_DATA_DIR", "/var/lib/etcd"),
            ("RKT_RUN_ARGS", "--uuid-file-save=/var/lib/coreos/etcd-member-wrapper.uuid"), ("NOTIFY_SOCKET", "/run/systemd/notify"));
        var host = TestHost.CoreOs(directories: ["/run/systemd/system"], sockets: ["/run/systemd/notify"]);

        var invocation = WrapperComposer.Compose(WrapperProfiles.Etcd, env, ["--name=member0"], host);

        // The order of a real etcd-member.service start, as CoreOS hosts logged it.
        Assert.Equal(
            (string[])
            [
                "/usr/bin/rkt", "run", "--uuid-file-save=/var/lib/coreos/etcd-member-wrapper.uuid", "--trust-keys-from-https",
                "--mount", "volume=coreos-systemd-dir,target=/run/systemd/system", "--volume", "coreos-systemd-dir,kind=host,source=/run/systemd/system,readOnly=true",
                "--mount", "volume=coreos-notify,target=/run/systemd/notify", "--volume", "coreos-notify,kind=host,source=/run/systemd/notify",
                "--set-env=NOTIFY_SOCKET=/run/systemd/notify",
                "--volume", "coreos-data-dir,kind=host,source=/var/lib/etcd,readOnly=false",
                "--volume", "coreos-etc-ssl-certs,kind=host,source=/etc/ssl/certs,readOnly=true",
                "--volume", "coreos-usr-share-certs,kind=host,source=/usr/share/ca-certificates,readOnly=true",
                "--volume", "coreos-etc-hosts,kind=host,source=/etc/hosts,readOnly=true",
                "--volume", "coreos-etc-resolv,kind=host,source=/etc/resolv.conf,readOnly=true",
                "--mount", "volume=coreos-data-dir,target=/var/lib/etcd",
                "--mount", "volume=coreos-etc-ssl-certs,target=/etc/ssl/certs",
                "--mount", "volume=coreos-usr-share-certs,target=/usr/share/ca-certificates",
                "--mount", "volume=coreos-etc-hosts,target=/etc/hosts",
                "--mount", "volume=coreos-etc-resolv,target=/etc/resolv.conf",
                "--inherit-env", "--stage1-from-dir=stage1-fly.aci", "quay.io/coreos/etcd:v3.1.8", "--user=232", "--", "--name=member0",
            ],
            invocation.Argv);
        Assert.Equal([new KeyValuePair<string, string>("ETCD_DATA_DIR", "/var/lib/etcd")], invocation.EnvironmentOverrides);
        Assert.Equal(new DirectoryToCreate("/var/lib/etcd", new PasswdEntry("etcd", 232, 232)), invocation.Directories.Single());
    }

    [Fact]
    public void Etcd_outside_systemd_has_no_notify_or_systemd_dir_and_maps_a_custom_data_dir()
    {
        var env = TestHost.Env(("ETCD_IMAGE_TAG", "v3.4"), ("ETCD_USER", "etcd"), ("ETCD_DATA_DIR", "/srv/etcd"), ("ETCD_SSL_DIR", "/etc/etcd/ssl"), ("NOTIFY_SOCKET", "/nonexistent"));
        var host = TestHost.With([.. TestHost.CoreOsPaths, "/etc/etcd/ssl"]);

        var invocation = WrapperComposer.Compose(WrapperProfiles.Etcd, env, [], host);

        Assert.DoesNotContain(invocation.Argv, word => word.Contains("notify", StringComparison.Ordinal) || word.Contains("systemd", StringComparison.Ordinal));
        Assert.Contains("coreos-data-dir,kind=host,source=/srv/etcd,readOnly=false", invocation.Argv);
        Assert.Contains("coreos-etc-ssl-certs,kind=host,source=/etc/etcd/ssl,readOnly=true", invocation.Argv);
        Assert.Contains("volume=coreos-data-dir,target=/var/lib/etcd", invocation.Argv);
        Assert.Equal(["/usr/bin/rkt", "run", "--insecure-options=image", "--volume"], invocation.Argv.Take(4));
        Assert.Contains("docker://quay.io/coreos/etcd:v3.4", invocation.Argv);
        Assert.Equal(["--user=232", "--"], invocation.Argv.TakeLast(2));
    }

    [Theory]
    [InlineData(new[] { "ETCD_USER=etcd", "ETCD_DATA_DIR=/var/lib/etcd" }, "One of ETCD_IMAGE ETCD_IMAGE_TAG must be set")]
    [InlineData(new[] { "ETCD_IMAGE_TAG=v3", "ETCD_DATA_DIR=/var/lib/etcd" }, "ETCD_USER is not set")]
    [InlineData(new[] { "ETCD_IMAGE=quay.io/coreos/etcd:v3", "ETCD_USER=etcd" }, "ETCD_DATA_DIR is not set")]
    [InlineData(new[] { "ETCD_IMAGE_TAG=v3", "ETCD_USER=nobody-here", "ETCD_DATA_DIR=/var/lib/etcd" }, "etcd-wrapper: ETCD_USER nobody-here: no such user in /etc/passwd")]
    public void Etcd_required_variables(string[] assignments, string message)
    {
        var env = assignments.Select(a => a.Split('=', 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);

        var error = Assert.Throws<WrapperConfigurationException>(() => WrapperComposer.Compose(WrapperProfiles.Etcd, env, [], TestHost.CoreOs()));

        Assert.Equal(message, error.Message);
        Assert.Equal(1, error.ExitCode);
    }

    // --- flannel-wrapper -----------------------------------------------------------------------------

    [Fact]
    public void Flanneld_unit_gives_the_original_order()
    {
        var env = TestHost.Env(("FLANNEL_IMAGE_TAG", "v0.7.1"), ("RKT_RUN_ARGS", "--uuid-file-save=/var/lib/coreos/flannel-wrapper.uuid"), ("NOTIFY_SOCKET", "/run/systemd/notify"));
        var host = TestHost.CoreOs(directories: ["/etc/ssl/etcd"], sockets: ["/run/systemd/notify"]);

        var invocation = WrapperComposer.Compose(WrapperProfiles.Flannel, env, ["--ip-masq=true"], host);

        Assert.Equal(
            (string[])
            [
                "/usr/bin/rkt", "run", "--uuid-file-save=/var/lib/coreos/flannel-wrapper.uuid", "--insecure-options=image",
                "--volume", "coreos-ssl,kind=host,source=/etc/ssl/etcd,readOnly=true", "--mount", "volume=coreos-ssl,target=/etc/ssl/etcd",
                "--mount", "volume=coreos-notify,target=/run/systemd/notify", "--volume", "coreos-notify,kind=host,source=/run/systemd/notify",
                "--set-env=NOTIFY_SOCKET=/run/systemd/notify",
                "--net=host",
                "--volume", "coreos-run-flannel,kind=host,source=/run/flannel,readOnly=false",
                "--volume", "coreos-etc-ssl-certs,kind=host,source=/etc/ssl/certs,readOnly=true",
                "--volume", "coreos-usr-share-certs,kind=host,source=/usr/share/ca-certificates,readOnly=true",
                "--volume", "coreos-etc-hosts,kind=host,source=/etc/hosts,readOnly=true",
                "--volume", "coreos-etc-resolv,kind=host,source=/etc/resolv.conf,readOnly=true",
                "--mount", "volume=coreos-run-flannel,target=/run/flannel",
                "--mount", "volume=coreos-etc-ssl-certs,target=/etc/ssl/certs",
                "--mount", "volume=coreos-usr-share-certs,target=/usr/share/ca-certificates",
                "--mount", "volume=coreos-etc-hosts,target=/etc/hosts",
                "--mount", "volume=coreos-etc-resolv,target=/etc/resolv.conf",
                "--inherit-env", "--stage1-from-dir=stage1-fly.aci", "docker://quay.io/coreos/flannel:v0.7.1", "--", "--ip-masq=true",
            ],
            invocation.Argv);
        Assert.Equal(["/run/flannel"], invocation.Directories.Select(d => d.Path));
        Assert.Empty(invocation.SharedMountPoints);
    }

    [Fact]
    public void Flannel_deprecated_variables_and_required_message()
    {
        var invocation = WrapperComposer.Compose(WrapperProfiles.Flannel, TestHost.Env(("FLANNEL_VER", "v0.6"), ("FLANNEL_IMG", "quay.io/coreos/flannel")), [], TestHost.CoreOs());
        Assert.Equal(
            ["FLANNEL_VER environment variable is deprecated, please use FLANNEL_IMAGE_TAG instead", "FLANNEL_IMG environment variable is deprecated, please use FLANNEL_IMAGE_URL instead"],
            invocation.Notices);
        Assert.Contains("quay.io/coreos/flannel:v0.6", invocation.Argv);
        Assert.Contains("--trust-keys-from-https", invocation.Argv);

        var error = Assert.Throws<WrapperConfigurationException>(() => WrapperComposer.Compose(WrapperProfiles.Flannel, TestHost.Env(("FLANNEL_IMG", "x")), [], TestHost.CoreOs()));
        Assert.Equal("One of FLANNEL_IMAGE FLANNEL_IMAGE_TAG must be set", error.Message);
        Assert.Equal(["FLANNEL_IMG environment variable is deprecated, please use FLANNEL_IMAGE_URL instead"], error.Notices);
    }

    [Fact]
    public void Kubelet_required_variable_message()
    {
        var error = Assert.Throws<WrapperConfigurationException>(() => Kubelet(TestHost.Env(("KUBELET_IMAGE_URL", "docker://x/y"))));

        Assert.Equal("One of KUBELET_IMAGE KUBELET_IMAGE_TAG must be set", error.Message);
        Assert.Equal(1, error.ExitCode);
    }

    [Fact]
    public void Profiles_keep_the_coreos_prefix_on_every_system_volume()
    {
        foreach (var profile in WrapperProfiles.All)
        {
            Assert.All(profile.Volumes, v => Assert.StartsWith("coreos-", v.Name, StringComparison.Ordinal));
            Assert.All(profile.ConditionalVolumes, v => Assert.StartsWith("coreos-", v.Name, StringComparison.Ordinal));
        }
    }
}
