namespace EfficientViT.ML.Tests.Training;

/// <summary>A clock that moves only when told to: time-budget tests set the pace of steps by hand.</summary>
internal sealed class ManualClock : TimeProvider
{
    private long ticks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => ticks;

    public override DateTimeOffset GetUtcNow() => new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).AddTicks(ticks);

    public double Seconds => (double)ticks / TimeSpan.TicksPerSecond;

    public void Advance(double seconds) => ticks += (long)Math.Round(seconds * TimeSpan.TicksPerSecond);
}
