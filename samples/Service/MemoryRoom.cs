using System.Globalization;
using System.Runtime.InteropServices;

namespace EfficientViT.Service;

/// <summary>
/// The decode budget the service takes when <c>--max-decode-mb</c> is not given: 1 GB, or less where the process
/// has less room: a quarter of the memory it may use (the machine's, or a container's limit, as .NET reads it), and
/// half of the address space left under an address-space limit (<c>ulimit -v</c>), which .NET's and the native
/// libraries' reservations already take much of. The rest is left for everything else a request allocates:
/// native code that runs out of memory ends the process rather than failing one request.
/// </summary>
public static class MemoryRoom
{
    /// <summary>The default budget where memory is plentiful.</summary>
    public const long DefaultBudgetBytes = 1L << 30;

    // getrlimit's resource number of the address-space limit, and "no limit" (Linux).
    private const int AddressSpaceLimit = 9;
    private const ulong NoLimit = ulong.MaxValue;

    /// <summary>The default budget for this process now, and why, in words.</summary>
    public static (long Bytes, string Reason) DefaultBudget()
    {
        var available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        var (bytes, reason) = available / 4 < DefaultBudgetBytes
            ? (available / 4, $"a quarter of the {Megabytes(available)} MB of memory available")
            : (DefaultBudgetBytes, "the default");
        if (AddressSpaceLeft() is { } left && left / 2 < bytes)
            (bytes, reason) = (Math.Max(0, left / 2), $"half of the {Megabytes(left)} MB of address space left under the process's limit");
        return (bytes, reason);
    }

    /// <summary>The address space left under the process's limit (<c>ulimit -v</c>), or null without one (or off Linux).</summary>
    public static long? AddressSpaceLeft()
    {
        if (!OperatingSystem.IsLinux())
            return null;
        try
        {
            if (getrlimit(AddressSpaceLimit, out var limit) != 0 || limit.Current == NoLimit)
                return null;
            var used = File.ReadLines("/proc/self/status").FirstOrDefault(line => line.StartsWith("VmSize:", StringComparison.Ordinal));
            if (used is null)
                return null;
            var usedBytes = long.Parse(used["VmSize:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
            return (long)Math.Min(limit.Current, long.MaxValue) - usedBytes;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or IOException or FormatException)
        {
            return null;
        }
    }

    private static string Megabytes(long bytes) => (bytes / 1024 / 1024).ToString("N0", CultureInfo.InvariantCulture);

    [StructLayout(LayoutKind.Sequential)]
    private struct ResourceLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int getrlimit(int resource, out ResourceLimit limit);
}
