using System.Globalization;
using System.Text.RegularExpressions;

namespace EfficientViT.ML.Training;

/// <summary>Durations as a user writes them: <c>8m</c>, <c>90s</c>, <c>1h30m</c>, <c>2.5m</c> or plain seconds (<c>600</c>).</summary>
internal static partial class TimeBudgetFormat
{
    /// <summary>Reads a duration; throws a <see cref="FormatException"/> quoting <paramref name="text"/> and the forms accepted.</summary>
    public static TimeSpan Parse(string text)
    {
        var trimmed = text.Trim();
        double seconds;
        if (double.TryParse(trimmed, NumberStyles.Float, CultureInfo.InvariantCulture, out var plain))
        {
            seconds = plain;
        }
        else
        {
            var match = Units().Match(trimmed.ToLowerInvariant());
            if (!match.Success || match.Length == 0)
                throw new FormatException($"'{text}' is not a duration: write e.g. 8m, 90s, 1h30m or a number of seconds.");
            seconds = Part(match, "h") * 3600 + Part(match, "m") * 60 + Part(match, "s");
        }
        if (!double.IsFinite(seconds) || seconds <= 0 || seconds > TimeSpan.MaxValue.TotalSeconds / 2)
            throw new FormatException($"'{text}': a duration must be positive and finite.");
        return TimeSpan.FromSeconds(seconds);
    }

    /// <summary>"1h05m", "8m00s", "42s".</summary>
    public static string Format(double seconds)
    {
        var whole = (long)Math.Round(Math.Max(0, seconds));
        var (hours, minutes, rest) = (whole / 3600, whole / 60 % 60, whole % 60);
        return hours > 0 ? $"{hours}h{minutes:D2}m" : minutes > 0 ? $"{minutes}m{rest:D2}s" : $"{rest}s";
    }

    private static double Part(Match match, string unit) =>
        match.Groups[unit].Success ? double.Parse(match.Groups[unit].Value, CultureInfo.InvariantCulture) : 0;

    [GeneratedRegex(@"^(?:(?<h>\d+(?:\.\d+)?)h)?(?:(?<m>\d+(?:\.\d+)?)m)?(?:(?<s>\d+(?:\.\d+)?)s)?$")]
    private static partial Regex Units();
}
