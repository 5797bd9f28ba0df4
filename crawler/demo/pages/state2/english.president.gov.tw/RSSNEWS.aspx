<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0">
<channel>
<title>Office of the President, Republic of China(Taiwan)-News &amp; activities</title>
<link>https://english.president.gov.tw/</link>
<description>News &amp; activities of the Office of the President, Republic of China (Taiwan)</description>
<language>en-us</language>
<item><title>President Lai meets US congressional delegation</title><link>https://english.president.gov.tw/News/7139</link><description>On the afternoon of May 29, President Lai Ching-te met with a bipartisan delegation of the United States House of Representatives at the Presidential Office.</description><pubDate>Fri, 29 May 2026 06:30:00 GMT</pubDate></item>
<item><title>President Lai attends graduation ceremony of military academies</title><link>https://english.president.gov.tw/News/7137</link><description>On the morning of May 27, President Lai Ching-te attended the joint graduation ceremony of the nation&#x27;s military academies at the Republic of China Military Academy in Kaohsiung, where he congratulated the new officers and their families.</description><pubDate>Wed, 27 May 2026 03:10:00 GMT</pubDate></item>
<item><title>President Lai and Vice President Hsiao mark second anniversary in office</title><link>https://english.president.gov.tw/News/7135</link><description>On the morning of May 20, President Lai Ching-te and Vice President Hsiao Bi-khim held a press conference at the Presidential Office to mark the second anniversary of their inauguration.</description><pubDate>Wed, 20 May 2026 04:40:00 GMT</pubDate></item>
<item><title>President Lai sees off President Peña of Paraguay</title><link>https://english.president.gov.tw/News/7134</link><description>On the morning of May 10, President Lai Ching-te went to Taoyuan International Airport to see off President Santiago Peña Palacios of the Republic of Paraguay at the end of his four-day state visit to Taiwan. The two presidents reviewed a guard of honor, and President Peña departed with full military honours.</description><pubDate>Sun, 10 May 2026 03:20:00 GMT</pubDate></item>
<item><title>President Lai and President Peña of Paraguay hold bilateral talks, witness signings of mutual legal assistance treaty, cybersecurity MOU, and Sovereign AI and Computing MOU</title><link>https://english.president.gov.tw/News/7133</link><description>On the morning of May 8, President Lai Ching-te held bilateral talks with President Santiago Peña Palacios of the Republic of Paraguay at the Presidential Office.</description><pubDate>Fri, 08 May 2026 07:30:00 GMT</pubDate></item>
<item><title>President Lai delivers remarks at Taiwan-US defense industry forum</title><link>https://english.president.gov.tw/News/7131</link><description>On the morning of May 6, President Lai Ching-te attended the Taiwan-US Defense Industry Forum in Taipei and delivered remarks.</description><pubDate>Wed, 06 May 2026 02:00:00 GMT</pubDate></item>
</channel>
</rss>
