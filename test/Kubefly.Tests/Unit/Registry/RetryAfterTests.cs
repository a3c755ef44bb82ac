using Kubefly.Images.Registry;

namespace Kubefly.Tests.Unit.Registry;

public sealed class RetryAfterTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Cap = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("0", 0)]
    [InlineData("7", 7)]
    [InlineData(" 12 ", 12)]
    [InlineData("3600", 60)]
    [InlineData("99999999999999999999999", 60)]
    public void Delay_seconds_are_read_and_capped(string value, int expectedSeconds) =>
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), RetryAfter.Parse(value, Now, Cap));

    [Fact]
    public void An_http_date_is_a_delay_from_now() =>
        Assert.Equal(TimeSpan.FromSeconds(30), RetryAfter.Parse("Thu, 26 Nov 2026 12:00:30 GMT", Now, Cap));

    [Fact]
    public void A_date_in_the_past_means_now() =>
        Assert.Equal(TimeSpan.Zero, RetryAfter.Parse("Thu, 26 Nov 2026 11:00:00 GMT", Now, Cap));

    [Fact]
    public void A_far_date_is_capped() =>
        Assert.Equal(Cap, RetryAfter.Parse("Fri, 27 Nov 2026 12:00:00 GMT", Now, Cap));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("soon")]
    [InlineData("-5")]
    [InlineData("1.5")]
    public void Unreadable_values_are_ignored(string? value) => Assert.Null(RetryAfter.Parse(value, Now, Cap));
}
