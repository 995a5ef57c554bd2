"""Inline English text used to train the tiny BPE tokenizers of the fixture models.

Varied on purpose: prose, dialogue with quotes and apostrophes, numbers, punctuation,
a little code and some repetition, so that ~250 merges come out of it.
"""

CORPUS = """The quick brown fox jumps over the lazy dog. The lazy dog did not seem to mind.
When Mary and John went to the store, John gave a drink to Mary. Then Mary gave a book to John.
After the meeting, Alice thanked Bob, and Bob thanked Alice; they both went home early.
In 1998, the committee met on Tuesday at 10:30 a.m. and discussed the budget ($4,200) for the new library.
The library opened in 2001 with 12,000 books, 300 maps and 45 computers for the public.
She said, "I don't think it's going to rain today," but he wasn't so sure and took an umbrella.
"Where are you going?" asked the teacher. "To the garden," answered the children, laughing.
Scientists measure the temperature of the ocean every hour; the data show a slow, steady rise.
The temperature of the water was 18 degrees in the morning and 21 degrees in the evening.
Researchers study how neural networks represent language, one layer and one head at a time.
An attention head moves information from earlier tokens to later tokens in the sequence.
The model predicts the next token, and the loss measures how surprised the model was.
def add(a, b):
    return a + b

for i in range(10):
    print(i * i)

The cat sat on the mat. The dog sat on the log. The bird sat on the branch and sang a song.
The cat sat on the mat again, and the dog watched the cat from the other side of the room.
Paris is the capital of France. Berlin is the capital of Germany. Rome is the capital of Italy.
Madrid is the capital of Spain, and Lisbon is the capital of Portugal.
London is a large city on the river Thames, and many people travel there every year.
Once upon a time there was a little girl who lived in a village near the forest.
Every morning she walked to the well to fetch water for her mother and her grandmother.
One day she met a wolf on the path, and the wolf asked her where she was going.
The history of science is full of small experiments that changed the way people think.
Water boils at 100 degrees Celsius and freezes at 0 degrees Celsius at sea level.
Numbers like 3.14159, 2.71828 and 1.41421 appear again and again in mathematics.
I think, therefore I am. To be or not to be, that is the question.
It was the best of times, it was the worst of times, it was the age of wisdom.
The train leaves at 7:45 from platform 9, so please do not be late this time!
Can you believe it? The price went from $19.99 to $24.50 in just one week.
Good morning! How are you today? I am fine, thank you, and you?
The weather report says there will be sunshine in the north and rain in the south.
Farmers grow wheat, corn, rice and potatoes, and they sell them at the market on Saturday.
Children play football in the park while their parents talk under the old oak tree.
The river runs through the valley, past the mill, and down to the sea.
Music, art and literature help people understand each other across time and place.
The computer stores data in memory, reads it back, and writes the result to the disk.
Please write your name, your address and your phone number on the first line of the form.
"""
