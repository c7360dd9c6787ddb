using System.Runtime.InteropServices;
using EfficientViT.ML.IO;

namespace EfficientViT.Training.Commands;

/// <summary>
/// Ctrl+C and SIGTERM end the process at once, without running <c>finally</c> blocks: while a command that writes
/// files is registered here, they delete its unfinished temporary files first (see <see cref="AtomicFile.DeleteUnfinished"/>).
/// </summary>
internal static class UnfinishedFiles
{
    /// <summary>Deletes unfinished files on Ctrl+C and SIGTERM until disposed; the process still ends as it would.</summary>
    public static IDisposable DeleteOnInterrupt() =>
        new Registrations([.. new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM }.Select(signal => PosixSignalRegistration.Create(signal, _ => AtomicFile.DeleteUnfinished()))]);

    private sealed class Registrations(PosixSignalRegistration[] registrations) : IDisposable
    {
        public void Dispose()
        {
            foreach (var registration in registrations)
                registration.Dispose();
        }
    }
}
