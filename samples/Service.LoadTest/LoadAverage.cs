namespace EfficientViT.Service.LoadTest;

/// <summary>The machine's load average, printed with every run: other programs on the cores change the figures.</summary>
public static class LoadAverage
{
    /// <summary>The 1, 5 and 15-minute load averages (Linux), else "unknown".</summary>
    public static string Now() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";
}
