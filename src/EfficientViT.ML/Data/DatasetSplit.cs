namespace EfficientViT.ML.Data;

/// <summary>Deterministic, per-class (stratified) ways to pick samples of a data set.</summary>
public static class DatasetSplit
{
    /// <summary>
    /// Splits a data set into training and validation parts with (up to rounding) the same class
    /// proportions: from each class, round(n · <paramref name="validationFraction"/>) randomly chosen samples go
    /// to validation and the rest to training. The same seed gives the same split.
    /// </summary>
    /// <param name="dataset">The data set to split.</param>
    /// <param name="validationFraction">The share of each class for validation, in (0, 1).</param>
    /// <param name="seed">Seeds the per-class shuffles.</param>
    /// <returns>Two subsets; both list their indices in ascending order.</returns>
    public static (IImageDataset Train, IImageDataset Validation) Split(IImageDataset dataset, double validationFraction, int seed)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (!(validationFraction > 0 && validationFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(validationFraction), validationFraction, "must be between 0 and 1 (exclusive)");

        var train = new List<int>();
        var validation = new List<int>();
        foreach (var members in ShuffledClasses(dataset, seed))
        {
            var validationCount = (int)Math.Round(members.Length * validationFraction, MidpointRounding.AwayFromZero);
            validation.AddRange(members.Take(validationCount));
            train.AddRange(members.Skip(validationCount));
        }
        train.Sort();
        validation.Sort();
        return (new SubsetDataset(dataset, train), new SubsetDataset(dataset, validation));
    }

    /// <summary>
    /// Up to <paramref name="perClass"/> randomly chosen samples of each class (all of a smaller class), for
    /// runs on little data. The same seed gives the same samples.
    /// </summary>
    /// <param name="dataset">The data set to take samples from.</param>
    /// <param name="perClass">The number of samples to keep per class (positive).</param>
    /// <param name="seed">Seeds the per-class shuffles.</param>
    /// <returns>A subset listing its indices in ascending order.</returns>
    public static IImageDataset Take(IImageDataset dataset, int perClass, int seed)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(perClass);
        var kept = ShuffledClasses(dataset, seed).SelectMany(members => members.Take(perClass)).ToList();
        kept.Sort();
        return new SubsetDataset(dataset, kept);
    }

    /// <summary>The indices of each class (in label order), each list shuffled by one generator seeded with <paramref name="seed"/>.</summary>
    private static List<int[]> ShuffledClasses(IImageDataset dataset, int seed)
    {
        var byClass = new List<int>[dataset.ClassNames.Count];
        for (var c = 0; c < byClass.Length; c++)
            byClass[c] = [];
        for (var i = 0; i < dataset.Count; i++)
        {
            var label = dataset.LabelOf(i);
            if ((uint)label >= (uint)byClass.Length)
                throw new InvalidDataException($"sample {i} has label {label}, but the data set has {byClass.Length} classes.");
            byClass[label].Add(i);
        }

        // One generator walked through the classes in label order: the result depends only on the seed and the labels.
        var random = new Random(seed);
        return byClass.Select(members =>
        {
            var array = members.ToArray();
            random.ShuffleInPlace(array);
            return array;
        }).ToList();
    }
}
