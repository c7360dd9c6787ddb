using System.Diagnostics;

namespace EfficientViT.ML.Tests.Checkpoints.Pretrained;

/// <summary>
/// Makes a folder read-only until disposed: its write permissions removed, or, for root (whom permissions do not
/// stop), a read-only bind mount of the folder over itself.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
internal sealed class ReadOnlyFolder : IDisposable
{
    private readonly Action restore;

    private ReadOnlyFolder(Action restore) => this.restore = restore;

    public static ReadOnlyFolder Make(string path)
    {
        if (Environment.UserName != "root")
        {
            var mode = File.GetUnixFileMode(path);
            File.SetUnixFileMode(path, mode & ~(UnixFileMode.UserWrite | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite));
            return new ReadOnlyFolder(() => File.SetUnixFileMode(path, mode));
        }
        Run("mount", "--bind", "-o", "ro", path, path);
        return new ReadOnlyFolder(() => Run("umount", path));
    }

    public void Dispose() => restore();

    private static void Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardError = true };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)} failed (a read-only folder for root needs a bind mount): {error}");
    }
}
