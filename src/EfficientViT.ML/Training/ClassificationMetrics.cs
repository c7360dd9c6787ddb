using System.Globalization;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Training;

/// <summary>
/// Accuracy of a classifier accumulated batch by batch: top-1, top-5, per-class accuracy and the
/// confusion matrix. Only counts are kept, not the logits.
/// </summary>
public sealed class ClassificationMetrics
{
    private readonly long[,] confusion;
    private long top5Correct;

    /// <summary>Creates empty metrics for <paramref name="numClasses"/> classes.</summary>
    public ClassificationMetrics(int numClasses)
    {
        if (numClasses < 1)
            throw new ArgumentOutOfRangeException(nameof(numClasses), numClasses, "numClasses must be at least 1.");
        NumClasses = numClasses;
        confusion = new long[numClasses, numClasses];
    }

    /// <summary>Number of classes.</summary>
    public int NumClasses { get; }

    /// <summary>Samples seen so far.</summary>
    public int Count { get; private set; }

    /// <summary>Share of samples whose highest logit is the true class (0 when empty).</summary>
    public double Top1Accuracy => Count == 0 ? 0 : (double)Enumerable.Range(0, NumClasses).Sum(c => confusion[c, c]) / Count;

    /// <summary>Share of samples whose true class is among the five highest logits; null with fewer than five classes.</summary>
    public double? Top5Accuracy => NumClasses < 5 ? null : Count == 0 ? 0 : (double)top5Correct / Count;

    /// <summary>Confusion counts: [true class, predicted class]. A copy.</summary>
    public long[,] ConfusionMatrix => (long[,])confusion.Clone();

    /// <summary>Per class, the share of its samples predicted correctly (recall); null for a class with no samples yet.</summary>
    public IReadOnlyList<double?> PerClassAccuracy =>
        Enumerable.Range(0, NumClasses).Select(c =>
        {
            var samples = SamplesOf(c);
            return samples == 0 ? (double?)null : (double)confusion[c, c] / samples;
        }).ToArray();

    /// <summary>Adds a batch.</summary>
    /// <param name="logits">(B, NumClasses) scores; any monotone transform (probabilities) works too.</param>
    /// <param name="labels">(B) int64 true classes.</param>
    public void Add(Tensor logits, Tensor labels)
    {
        if (logits.dim() != 2 || logits.shape[1] != NumClasses)
            throw new ArgumentException($"Expected logits shaped (batch, {NumClasses}); found ({string.Join(", ", logits.shape)}).", nameof(logits));
        if (labels.dim() != 1 || labels.shape[0] != logits.shape[0] || labels.dtype != ScalarType.Int64)
            throw new ArgumentException($"Expected int64 labels shaped ({logits.shape[0]}); found {labels.dtype} ({string.Join(", ", labels.shape)}).", nameof(labels));

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var predicted = logits.argmax(1).cpu().data<long>().ToArray();
        var truth = labels.cpu().data<long>().ToArray();
        // Checked before anything is counted, so that a bad batch leaves the metrics as they were.
        foreach (var label in truth)
        {
            if (label < 0 || label >= NumClasses)
                throw new ArgumentException($"Labels must be in [0, {NumClasses}); found {label}.", nameof(labels));
        }

        if (NumClasses >= 5)
        {
            var (_, top5) = logits.topk(5, dim: 1);
            top5Correct += (top5 == labels.to(logits.device).unsqueeze(1)).any(1).sum().ToInt64();
        }
        for (var i = 0; i < truth.Length; i++)
            confusion[truth[i], predicted[i]]++;
        Count += truth.Length;
    }

    /// <summary>
    /// A plain-text report: top-1 (and top-5), then one row per class with its sample count, accuracy and
    /// confusion row (columns are predicted classes, by index).
    /// </summary>
    /// <param name="classNames">One name per class, in class order.</param>
    public string ToTable(IReadOnlyList<string> classNames)
    {
        if (classNames.Count != NumClasses)
            throw new ArgumentException($"Expected {NumClasses} class names; found {classNames.Count}.", nameof(classNames));

        var culture = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.Append(culture, $"samples: {Count}   top-1: {Top1Accuracy:P2}");
        if (Top5Accuracy is { } top5)
            text.Append(culture, $"   top-5: {top5:P2}");
        text.AppendLine();

        var nameWidth = Math.Max("class".Length, classNames.Max(name => name.Length));
        var countWidth = Math.Max(5, Enumerable.Range(0, NumClasses).Max(c => SamplesOf(c)).ToString(culture).Length);
        var cellWidth = Math.Max(NumClasses.ToString(culture).Length, Count.ToString(culture).Length) + 1;

        text.Append("class".PadRight(nameWidth)).Append(' ').Append("n".PadLeft(countWidth)).Append("  accuracy ");
        for (var c = 0; c < NumClasses; c++)
            text.Append(c.ToString(culture).PadLeft(cellWidth));
        text.AppendLine();

        var perClass = PerClassAccuracy;
        for (var row = 0; row < NumClasses; row++)
        {
            var accuracy = perClass[row] is { } value ? value.ToString("P2", culture) : "-";
            text.Append(classNames[row].PadRight(nameWidth)).Append(' ')
                .Append(SamplesOf(row).ToString(culture).PadLeft(countWidth)).Append("  ")
                .Append(accuracy.PadLeft(8)).Append(' ');
            for (var column = 0; column < NumClasses; column++)
                text.Append(confusion[row, column].ToString(culture).PadLeft(cellWidth));
            text.AppendLine();
        }
        return text.ToString();
    }

    private long SamplesOf(int trueClass)
    {
        long total = 0;
        for (var predicted = 0; predicted < NumClasses; predicted++)
            total += confusion[trueClass, predicted];
        return total;
    }
}
