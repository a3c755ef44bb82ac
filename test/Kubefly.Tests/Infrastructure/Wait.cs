using System.Diagnostics;

namespace Kubefly.Tests.Infrastructure;

/// <summary>Polling with a deadline, for conditions another process brings about.</summary>
public static class Wait
{
    /// <summary>Polls <paramref name="condition"/> every 20 ms; fails the test naming <paramref name="what"/> once the timeout passes.</summary>
    public static void Until(Func<bool> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"gave up after {timeout.TotalSeconds:0.#} s waiting for {what}");
            }

            Thread.Sleep(20);
        }
    }
}
