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
    public void Delay_seconds_are_read_and_capped(string value, int expectedSeconds) =>
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), Delay(value));

    [Theory]
    [InlineData("Thu, 26 Nov 2026 12:00:30 GMT")]
    [InlineData("Thursday, 26-Nov-26 12:00:30 GMT")]
    [InlineData("Thu Nov 26 12:00:30 2026")]
    public void An_http_date_in_each_form_is_a_delay_from_now(string value) =>
        Assert.Equal(TimeSpan.FromSeconds(30), Delay(value));

    [Fact]
    public void A_date_in_the_past_means_now() =>
        Assert.Equal(TimeSpan.Zero, Delay("Thu, 26 Nov 2026 11:00:00 GMT"));

    [Fact]
    public void A_far_date_is_capped() =>
        Assert.Equal(Cap, Delay("Fri, 27 Nov 2026 12:00:00 GMT"));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("soon")]
    [InlineData("-5")]
    [InlineData("1.5")]
    [InlineData("99999999999999999999999")]
    public void Unreadable_values_are_ignored(string? value) => Assert.Null(Delay(value));

    private static TimeSpan? Delay(string? value)
    {
        using var response = new HttpResponseMessage();
        if (value is not null)
        {
            response.Headers.TryAddWithoutValidation("Retry-After", value);
        }

        return RetryAfter.From(response.Headers, Now, Cap);
    }
}
