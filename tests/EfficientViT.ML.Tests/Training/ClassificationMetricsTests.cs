using EfficientViT.ML.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Training;

public class ClassificationMetricsTests
{
    private static Tensor Logits(params float[][] rows) =>
        tensor(rows.SelectMany(row => row).ToArray(), new long[] { rows.Length, rows[0].Length });

    [Fact]
    public void Top1_top5_and_confusion_of_a_hand_made_batch()
    {
        using var scope = NewDisposeScope();
        var metrics = new ClassificationMetrics(6);
        // Sample 0: class 0, predicted 0.                       top-1 and top-5 right.
        // Sample 1: class 1, predicted 2, class 1 second.       top-5 right.
        metrics.Add(
            Logits(new float[] { 9, 1, 2, 3, 4, 5 }, new float[] { 0, 8, 9, 1, 2, 3 }),
            tensor(new long[] { 0, 1 }));
        // Sample 2: class 3, predicted 3.                       top-1 and top-5 right.
        // Sample 3: class 5, predicted 0, class 5 the lowest.   both wrong.
        metrics.Add(
            Logits(new float[] { 0, 1, 2, 9, 4, 5 }, new float[] { 9, 8, 7, 6, 5, -1 }),
            tensor(new long[] { 3, 5 }));

        Assert.Equal(4, metrics.Count);
        Assert.Equal(0.5, metrics.Top1Accuracy);
        Assert.Equal(0.75, metrics.Top5Accuracy);

        var confusion = metrics.ConfusionMatrix;
        var expected = new long[6, 6];
        expected[0, 0] = 1;
        expected[1, 2] = 1;
        expected[3, 3] = 1;
        expected[5, 0] = 1;
        Assert.Equal(expected, confusion);

        Assert.Equal(new double?[] { 1.0, 0.0, null, 1.0, null, 0.0 }, metrics.PerClassAccuracy);
    }

    [Fact]
    public void Top5_is_absent_with_fewer_than_five_classes()
    {
        using var scope = NewDisposeScope();
        var metrics = new ClassificationMetrics(3);
        metrics.Add(Logits(new float[] { 1, 2, 3 }, new float[] { 3, 2, 1 }, new float[] { 0, 5, 0 }), tensor(new long[] { 2, 1, 1 }));
        Assert.Null(metrics.Top5Accuracy);
        Assert.Equal(2.0 / 3, metrics.Top1Accuracy, 12);
        Assert.Equal(new double?[] { null, 0.5, 1.0 }, metrics.PerClassAccuracy);
    }

    [Fact]
    public void Table_names_the_classes_and_shows_the_counts()
    {
        using var scope = NewDisposeScope();
        var metrics = new ClassificationMetrics(3);
        metrics.Add(Logits(new float[] { 1, 2, 3 }, new float[] { 3, 2, 1 }, new float[] { 0, 5, 0 }), tensor(new long[] { 2, 1, 1 }));

        var table = metrics.ToTable(new[] { "cat", "dog", "horse" });

        var lines = table.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(5, lines.Length); // summary, header, three classes
        Assert.Contains("66.67", lines[0]);
        Assert.StartsWith("dog", lines[3]);
        Assert.Contains("50.00", lines[3]);
        Assert.EndsWith("1 1 0", string.Join(' ', lines[3].Split(' ', StringSplitOptions.RemoveEmptyEntries)));
        Assert.Contains("-", lines[2]); // no cat samples
        Assert.Throws<ArgumentException>(() => metrics.ToTable(new[] { "cat" }));
    }

    [Fact]
    public void Bad_labels_are_rejected_without_counting()
    {
        using var scope = NewDisposeScope();
        var metrics = new ClassificationMetrics(3);
        Assert.Throws<ArgumentException>(() => metrics.Add(Logits(new float[] { 1, 2, 3 }), tensor(new long[] { 3 })));
        Assert.Throws<ArgumentException>(() => metrics.Add(Logits(new float[] { 1, 2, 3 }), tensor(new int[] { 0 })));
        Assert.Equal(0, metrics.Count);
    }
}
