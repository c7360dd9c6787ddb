using System.Diagnostics;

namespace EfficientViT.ML.Checkpoints.Pretrained;

/// <summary>
/// Reports downloads on standard error: a line when one starts, one every few seconds while it runs (so a log
/// shows it is alive), and one when it is done. Standard output is left to the application.
/// </summary>
internal sealed class StandardErrorDownloadProgress : IProgress<DownloadProgress>
{
    private readonly TimeSpan interval;
    private readonly Stopwatch sinceLastLine = new();

    /// <summary>Creates the reporter; <paramref name="interval"/> is the time between two lines of a running download (default 3 s).</summary>
    public StandardErrorDownloadProgress(TimeSpan? interval = null) => this.interval = interval ?? TimeSpan.FromSeconds(3);

    /// <inheritdoc />
    public void Report(DownloadProgress value)
    {
        lock (sinceLastLine)
        {
            if (value.Completed)
            {
                Console.Error.WriteLine($"downloaded {value.Name}: {Mib(value.BytesReceived)} from {value.Url.Host}, verified");
                sinceLastLine.Reset();
                return;
            }
            if (value.BytesReceived == 0)
            {
                Console.Error.WriteLine($"downloading {value.Name} from {value.Url}" + (value.TotalBytes is { } total ? $" ({Mib(total)})" : ""));
                sinceLastLine.Restart();
                return;
            }
            if (sinceLastLine.IsRunning && sinceLastLine.Elapsed < interval)
                return;
            sinceLastLine.Restart();
            var percent = value.TotalBytes is { } t && t > 0 ? $" ({100.0 * value.BytesReceived / t:F0}%)" : "";
            Console.Error.WriteLine($"  {value.Name}: {Mib(value.BytesReceived)}{(value.TotalBytes is { } all ? $" of {Mib(all)}" : "")}{percent}");
        }
    }

    private static string Mib(long bytes) => $"{bytes / 1024.0 / 1024.0:F1} MiB";
}
