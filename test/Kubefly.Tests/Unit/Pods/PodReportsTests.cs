using Kubefly.Pods;

namespace Kubefly.Tests.Unit.Pods;

public sealed class PodReportsTests
{
    [Fact]
    public void Tables_align_like_go_s_tabwriter_with_tabs()
    {
        var table = PodReports.TabTable([["UUID", "APP", "NETWORKS"], ["0123abcd", "a-rather-long-app-name", string.Empty]]);

        Assert.Equal("UUID\t\tAPP\t\t\tNETWORKS\n0123abcd\ta-rather-long-app-name\t\n", table);
    }

    [Theory]
    [InlineData(0.5, "now")]
    [InlineData(1.5, "1 second ago")]
    [InlineData(42, "42 seconds ago")]
    [InlineData(90, "1 minute ago")]
    [InlineData(600, "10 minutes ago")]
    [InlineData(5400, "1 hour ago")]
    [InlineData(3 * 3600, "3 hours ago")]
    [InlineData(36 * 3600, "1 day ago")]
    [InlineData(3 * 86400, "3 days ago")]
    [InlineData(10 * 86400, "1 week ago")]
    [InlineData(20 * 86400, "2 weeks ago")]
    public void Relative_times_read_like_go_humanize(double secondsAgo, string expected)
    {
        var now = DateTimeOffset.UtcNow;

        Assert.Equal(expected, GoTime.Humanize(now - TimeSpan.FromSeconds(secondsAgo), now));
    }

    [Fact]
    public void Times_print_in_go_s_layout_with_milliseconds_trimmed()
    {
        Assert.Equal("0001-01-01 00:00:00 +0000 UTC", GoTime.Format(null));
        var utc = TimeZoneInfo.Local.BaseUtcOffset == TimeSpan.Zero && !TimeZoneInfo.Local.SupportsDaylightSavingTime;
        if (utc)
        {
            Assert.Equal("2016-01-26 14:23:34.63 +0000 UTC", GoTime.Format(new DateTimeOffset(2016, 1, 26, 14, 23, 34, 630, TimeSpan.Zero)));
            Assert.Equal("2016-01-26 14:23:34 +0000 UTC", GoTime.Format(new DateTimeOffset(2016, 1, 26, 14, 23, 34, TimeSpan.Zero)));
        }
        else
        {
            Assert.Matches(@"^2016-01-26 \d\d:23:34\.63 [+-]\d{4} \S+$", GoTime.Format(new DateTimeOffset(2016, 1, 26, 14, 23, 34, 630, TimeSpan.Zero)));
        }
    }
}

public sealed class MountTableTests
{
    [Fact]
    public void Finds_mount_points_at_and_under_a_path_with_mountinfo_escapes()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(file, [
                "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
                @"90 22 0:50 / /var/lib/kubefly/pods/run/a\040b/rootfs rw - overlay overlay rw",
                "91 22 0:51 / /var/lib/kubefly/pods/run/a rw - tmpfs tmpfs rw",
                "92 22 0:52 / /var/lib/kubefly/pods/run/ab rw - tmpfs tmpfs rw",
            ]);

            Assert.Equal(["/var/lib/kubefly/pods/run/a b/rootfs"], MountTable.MountPointsUnder("/var/lib/kubefly/pods/run/a b", file));
            Assert.Equal(["/var/lib/kubefly/pods/run/a"], MountTable.MountPointsUnder("/var/lib/kubefly/pods/run/a/", file));
            Assert.Empty(MountTable.MountPointsUnder("/var/lib/kubefly/pods/run/c", file));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
