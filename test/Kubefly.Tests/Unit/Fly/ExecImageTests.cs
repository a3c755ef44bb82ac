using Kubefly.Fly;

namespace Kubefly.Tests.Unit.Fly;

public sealed class ExecImageTests
{
    [Fact]
    public void ANameWithASlashIsTriedAsIs() =>
        Assert.Equal(["./run", "/bin/sh"], new[] { "./run", "/bin/sh" }.SelectMany(n => ExecImage.Candidates(n, ["PATH=/x"])));

    [Fact]
    public void ABareNameIsSearchedInTheAppsPath() =>
        Assert.Equal(["/opt/bin/app", "/bin/app", "app"], ExecImage.Candidates("app", ["A=1", "PATH=/opt/bin/:/bin::/bin"]));

    [Fact]
    public void WithoutPathTheDefaultIsSearched() =>
        Assert.Equal(ExecImage.DefaultPath.Split(':').Select(d => d + "/app"), ExecImage.Candidates("app", ["A=1"]));

    [Fact]
    public void ANulInArgumentsIsRefused() =>
        Assert.Throws<FlyException>(() => ExecImage.Create(["/bin/sh", "a\0b"], []));

    [Fact]
    public void TheEnvironmentIsThePlansWhenNoNotifySocketIsInvolved()
    {
        IReadOnlyList<string> env = ["A=1", "NOTIFY_SOCKET=/host/path"];

        Assert.Same(env, FlyStage.ExecEnvironment(env, null, null));
    }

    [Fact]
    public void ABoundNotifySocketReplacesThePlansValue() =>
        Assert.Equal(["A=1", "NOTIFY_SOCKET=/run/notify"], FlyStage.ExecEnvironment(["NOTIFY_SOCKET=/host/path", "A=1"], "/run/notify", "/host/path"));

    [Fact]
    public void AnAbstractHostNotifySocketPassesThrough() =>
        Assert.Equal(["A=1", "NOTIFY_SOCKET=@abstract"], FlyStage.ExecEnvironment(["A=1"], null, "@abstract"));
}
