using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using Kubefly.Oci;

namespace Kubefly.Tests.Infrastructure;

/// <summary>
/// For records read and written by hand (docs/adr/0006-hand-written-run-path-json.md): a model instance
/// with every property, found by reflection, set to a value of its own, and a field-by-field comparison
/// that names any field a hand-written reader or writer forgot.
/// </summary>
[UnconditionalSuppressMessage("Trimming", "IL2067", Justification = "The test project is never trimmed.")]
[UnconditionalSuppressMessage("Trimming", "IL2070", Justification = "The test project is never trimmed.")]
[UnconditionalSuppressMessage("Trimming", "IL2072", Justification = "The test project is never trimmed.")]
[UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "The test project is never trimmed.")]
[UnconditionalSuppressMessage("AOT", "IL3050", Justification = "The test project is never compiled ahead of time.")]
public static class RecordFields
{
    /// <summary>An instance with every settable property given a non-default value derived from its name.</summary>
    public static object Populate(Type type, string prefix)
    {
        var instance = Activator.CreateInstance(type)!;
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
        {
            property.SetValue(instance, ValueFor(property.PropertyType, $"{prefix}-{property.Name}"));
        }

        return instance;
    }

    private static object ValueFor(Type type, string seed)
    {
        var underlying = Nullable.GetUnderlyingType(type) ?? type;
        if (underlying == typeof(string))
        {
            return "/" + seed;
        }

        if (underlying == typeof(bool))
        {
            return true;
        }

        if (underlying == typeof(int) || underlying == typeof(long))
        {
            return Convert.ChangeType(seed.Length + 7, underlying, System.Globalization.CultureInfo.InvariantCulture);
        }

        if (underlying == typeof(DateTimeOffset))
        {
            // In the future: a store may replace a time in the past with a file time (an image's last use).
            return new DateTimeOffset(2030, 1, 1, 10, 0, 0, seed.Length % 1000, TimeSpan.Zero);
        }

        if (underlying == typeof(Digest))
        {
            return Digest.Compute(System.Text.Encoding.UTF8.GetBytes(seed));
        }

        if (underlying.IsEnum)
        {
            var values = Enum.GetValues(underlying);
            return values.GetValue(values.Length - 1)!;
        }

        if (underlying.IsGenericType && underlying.GetGenericTypeDefinition() == typeof(IReadOnlyList<>))
        {
            var element = underlying.GetGenericArguments()[0];
            var list = (IList)Activator.CreateInstance(typeof(List<>).MakeGenericType(element))!;
            list.Add(ValueFor(element, seed + "-0"));
            list.Add(ValueFor(element, seed + "-1"));
            return list;
        }

        if (underlying.IsClass)
        {
            return Populate(underlying, seed);
        }

        throw new NotSupportedException($"{seed}: no test value for {underlying}");
    }

    public static IEnumerable<(string Path, object? Expected, object? Actual)> Compare(Type type, object? expected, object? actual, string path)
    {
        if (expected is null || actual is null || type == typeof(string) || type.IsValueType || type == typeof(Digest))
        {
            if (!Equals(expected, actual))
            {
                yield return (path, expected, actual);
            }

            yield break;
        }

        if (expected is IEnumerable expectedItems && actual is IEnumerable actualItems)
        {
            var left = expectedItems.Cast<object?>().ToList();
            var right = actualItems.Cast<object?>().ToList();
            if (left.Count != right.Count)
            {
                yield return (path + ".Count", left.Count, right.Count);
                yield break;
            }

            for (var i = 0; i < left.Count; i++)
            {
                foreach (var difference in Compare(left[i]?.GetType() ?? typeof(object), left[i], right[i], $"{path}[{i}]"))
                {
                    yield return difference;
                }
            }

            yield break;
        }

        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.GetIndexParameters().Length == 0 && p.CanWrite))
        {
            foreach (var difference in Compare(property.PropertyType, property.GetValue(expected), property.GetValue(actual), $"{path}.{property.Name}"))
            {
                yield return difference;
            }
        }
    }
}
